package dev.tollgate.api.wire;

/**
 * The owners an operator sets for an asset that belongs to no workload (CA slots, the key-encryption key, token
 * signing keys, operator credentials), or with id {@code *} for every asset of a kind without owners of its own.
 * Every field is required.
 */
public record AssetOwnerSpec(String humanOwner, String serviceOwner, String purpose, String rotationResponsibility,
                             String revocationResponsibility) {
}
