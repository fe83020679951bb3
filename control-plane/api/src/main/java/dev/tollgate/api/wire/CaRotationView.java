package dev.tollgate.api.wire;

import java.time.Instant;

/** What a forced CA rotation did: the next CA is in the bundle now and signs from activatesAt. */
public record CaRotationView(String preparedCaId, long bundleSequence, Instant activatesAt) {
}
