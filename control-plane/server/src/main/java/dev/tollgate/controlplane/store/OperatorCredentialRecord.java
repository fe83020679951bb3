package dev.tollgate.controlplane.store;

import java.time.Instant;

import dev.tollgate.api.SpiffeId;

/**
 * One issued operator certificate, as the operator inventory keeps it; the certificate itself is the
 * {@link SvidRecord} with the same serial.
 *
 * @param role     the role the certificate carries (viewer, operator, admin)
 * @param issuedTo the person it was issued to
 * @param issuedBy who asked for it (the admin's SPIFFE ID, or "system" for the bootstrap credential)
 */
public record OperatorCredentialRecord(String serialHex, SpiffeId spiffeId, String role, String issuedTo,
                                       String issuedBy, Instant issuedAt, Instant notAfter) {
}
