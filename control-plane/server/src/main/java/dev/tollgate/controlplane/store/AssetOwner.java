package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.Objects;

/**
 * Who owns an asset that belongs to no workload: the person and the service answerable for it, what it is for, who
 * rotates it and who is paged to revoke it. {@code id} {@value #ANY} stands for every asset of the kind without its
 * own row.
 */
public record AssetOwner(String kind, String id, String humanOwner, String serviceOwner, String purpose,
                         String rotationResponsibility, String revocationResponsibility, Instant updatedAt,
                         String updatedBy) {
    public static final String ANY = "*";

    public AssetOwner {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(humanOwner, "humanOwner");
        Objects.requireNonNull(serviceOwner, "serviceOwner");
        Objects.requireNonNull(purpose, "purpose");
        Objects.requireNonNull(rotationResponsibility, "rotationResponsibility");
        Objects.requireNonNull(revocationResponsibility, "revocationResponsibility");
        Objects.requireNonNull(updatedAt, "updatedAt");
        Objects.requireNonNull(updatedBy, "updatedBy");
    }
}
