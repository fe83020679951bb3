package dev.tollgate.proxy.tls;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

import dev.tollgate.api.SpiffeId;

/**
 * One validated set of certificate material: the sidecar's chain (leaf first), its private key and the trust bundle.
 * Instances are only created by {@link SvidValidator}, so holding one means the material passed validation.
 */
public final class CertificateSnapshot {
    private final List<X509Certificate> chain;
    private final PrivateKey key;
    private final List<X509Certificate> bundle;
    private final SpiffeId spiffeId;
    private final String fingerprint;

    CertificateSnapshot(List<X509Certificate> chain, PrivateKey key, List<X509Certificate> bundle, SpiffeId spiffeId,
                        String fingerprint) {
        this.chain = List.copyOf(chain);
        this.key = key;
        this.bundle = List.copyOf(bundle);
        this.spiffeId = spiffeId;
        this.fingerprint = fingerprint;
    }

    public List<X509Certificate> chain() {
        return chain;
    }

    public X509Certificate leaf() {
        return chain.get(0);
    }

    public PrivateKey key() {
        return key;
    }

    public List<X509Certificate> bundle() {
        return bundle;
    }

    /** The SPIFFE ID of the leaf, from its single URI SAN. */
    public SpiffeId spiffeId() {
        return spiffeId;
    }

    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    /**
     * SHA-256 over the encoded chain, key and bundle; two snapshots with the same fingerprint hold the same material.
     */
    public String fingerprint() {
        return fingerprint;
    }

    @Override
    public String toString() {
        return "CertificateSnapshot[" + spiffeId + ", serial " + leaf().getSerialNumber().toString(16) + ", notAfter "
                + notAfter() + "]";
    }
}
