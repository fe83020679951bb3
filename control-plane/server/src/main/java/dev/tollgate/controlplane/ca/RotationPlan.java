package dev.tollgate.controlplane.ca;

import java.time.Instant;

/**
 * What a forced rotation does: {@code preparedCaId} is in the trust bundle from {@code preparedAt} (bundle sequence
 * {@code bundleSequence}) and replaces {@code activeCaId} at the first {@link CaManager#tick()} at or after
 * {@code activatesAt}.
 */
public record RotationPlan(String activeCaId, String preparedCaId, Instant preparedAt, Instant activatesAt,
                           long bundleSequence) {
}
