package dev.tollgate.controlplane.store;

import java.time.Instant;

/**
 * What one workload's sidecar saw of one upstream's TLS with one peer certificate: the latest observation, and when
 * that (workload, upstream, serial) was first and last seen.
 */
public record UpstreamTlsRecord(String workload, String upstream, String serial, String protocol, String cipher,
                                String peerKeyType, int peerKeyBits, String signatureAlgorithm, String issuer,
                                Instant notAfter, String peerId, Instant firstSeen, Instant lastSeen) {
}
