package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * An issued X.509-SVID with the trust bundle to verify peers against.
 *
 * @param chainPem       the leaf followed by any intermediates
 * @param bundlePem      every CA certificate currently trusted in the trust domain
 * @param bundleSequence the bundle's sequence number
 */
public record SvidResponse(String spiffeId, String serial, String chainPem, Instant notBefore, Instant notAfter,
                           String bundlePem, long bundleSequence) {
}
