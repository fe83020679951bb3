package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * What a sidecar saw of one upstream's TLS when it originated a connection to it, deduplicated at the sidecar
 * (one per distinct value per reporting interval) and sent in {@link DecisionBatch#upstreamTls()}.
 *
 * @param upstream           {@code host:port}
 * @param protocol           e.g. {@code TLSv1.3}
 * @param cipher             the negotiated suite, IANA name
 * @param peerKeyType        {@code RSA}, {@code EC}, {@code Ed25519}, …
 * @param peerKeyBits        the key size in bits (EC: the curve's field size)
 * @param signatureAlgorithm the peer certificate's signature algorithm, e.g. {@code SHA256withECDSA}
 * @param issuer             the peer certificate's issuer DN
 * @param notAfter           the peer certificate's expiry
 * @param peerId             the SPIFFE ID of the peer certificate, or its first DNS name
 * @param serial             the peer certificate's serial, hex as openssl prints it
 * @param observedAt         when the sidecar first saw this value in the interval
 */
public record UpstreamTlsObservation(String upstream, String protocol, String cipher, String peerKeyType,
                                     int peerKeyBits, String signatureAlgorithm, String issuer, Instant notAfter,
                                     String peerId, String serial, Instant observedAt) {
}
