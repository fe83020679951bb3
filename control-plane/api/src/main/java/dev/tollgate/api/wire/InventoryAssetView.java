package dev.tollgate.api.wire;

import java.time.Instant;
import java.util.Map;

/**
 * One cryptographic asset of the inventory. Never carries a secret: keys appear by algorithm, size and fingerprint,
 * tokens by id.
 *
 * @param kind                     {@code ca}, {@code kek}, {@code svid}, {@code operator_credential},
 *                                 {@code signing_key}, {@code task_token}, {@code exchanged_token}, {@code join_token},
 *                                 {@code upstream_tls} (id {@code host:port#serial}, owned by the reporting workload)
 * @param id                       the asset's id within its kind (CA id, KEK fingerprint, certificate serial as
 *                                 lowercase hex, kid, jti, join token id)
 * @param workload                 the SPIFFE ID the asset belongs to, or null
 * @param task                     the task it belongs to, or null
 * @param ownerSource              where the owners come from: {@code workload}, {@code asset} (set for this asset),
 *                                 {@code kind} (set for every asset of the kind), or {@code none}
 * @param algorithm                key or signature algorithm (e.g. {@code EC P-256}, {@code ES256}), or null
 * @param keyBits                  key size in bits, or null
 * @param state                    rotation state: {@code current}, {@code due}, {@code overdue}, {@code prepared},
 *                                 {@code superseded}, {@code retired}, {@code revoked}, {@code expired}; for join
 *                                 tokens {@code outstanding}, {@code used}, {@code expired}, {@code revoked}
 * @param details                  kind-specific facts (issuer, serial as openssl prints it, fingerprint, …)
 */
public record InventoryAssetView(String kind, String id, String workload, String task, String humanOwner,
                                 String serviceOwner, String purpose, String rotationResponsibility,
                                 String revocationResponsibility, String ownerSource, String algorithm,
                                 Integer keyBits, Instant createdAt, Instant expiresAt, Instant lastUsedAt,
                                 String state, Map<String, Object> details) {
}
