package dev.tollgate.controlplane.store;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

import dev.tollgate.api.SpiffeId;

/**
 * A stored upstream secret: its binding, owners and history, with the value only in sealed form (see
 * {@code KeyEncryption#seal}; the associated data is the name and version). {@link #toString()} never prints the
 * sealed value either.
 *
 * @param sealedBy the inventory id of the KEK that sealed it
 * @param deletedAt set when deleted (the row is kept so the name stays bound)
 */
public record UpstreamSecretRecord(String name, SpiffeId workload, String upstream, String exceptionId,
                                   String sealedValue, String sealedBy, int version, String humanOwner,
                                   String serviceOwner, Duration rotationPeriod, Instant createdAt, String createdBy,
                                   Instant rotatedAt, String rotatedBy, Optional<Instant> lastUsedAt, long uses,
                                   Optional<Instant> deletedAt, Optional<String> deletedBy) {

    public boolean deleted() {
        return deletedAt.isPresent();
    }

    /** The associated data its value is sealed with: name and version, so a value cannot move between them. */
    public static String associatedData(String name, int version) {
        return "upstream-secret:" + name + ":v" + version;
    }

    @Override
    public String toString() {
        return "UpstreamSecretRecord[name=" + name + ", workload=" + workload + ", upstream=" + upstream
                + ", exceptionId=" + exceptionId + ", version=" + version + ", sealedBy=" + sealedBy
                + ", sealedValue=(redacted), deleted=" + deleted() + "]";
    }
}
