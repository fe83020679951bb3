package dev.tollgate.proxy.tls;

import java.io.ByteArrayOutputStream;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Date;
import java.util.List;
import java.util.Optional;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.InvalidSvidException;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.proxy.metrics.ReloadResult;

/**
 * Validates the sidecar's own certificate material before anything uses it: the leaf is an X.509-SVID (one URI SAN,
 * not a CA), it is valid now, its chain leads to the bundle, it carries the configured SPIFFE ID (when one is
 * configured) and the private key belongs to it.
 */
public final class SvidValidator {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Clock clock;
    private final Optional<SpiffeId> expectedId;

    public SvidValidator(Clock clock, Optional<SpiffeId> expectedId) {
        this.clock = clock;
        this.expectedId = expectedId;
    }

    public CertificateSnapshot validate(List<X509Certificate> chain, PrivateKey key, List<X509Certificate> bundle)
            throws SnapshotRejectedException {
        if (chain == null || chain.isEmpty()) {
            throw new SnapshotRejectedException(ReloadResult.UNPARSEABLE, "certificate chain is empty");
        }
        if (bundle == null || bundle.isEmpty()) {
            throw new SnapshotRejectedException(ReloadResult.UNPARSEABLE, "trust bundle is empty");
        }
        X509Certificate leaf = chain.get(0);
        SpiffeId id;
        try {
            id = Svids.spiffeId(leaf);
        } catch (InvalidSvidException e) {
            throw new SnapshotRejectedException(ReloadResult.NOT_AN_SVID, "certificate is not an X.509-SVID: "
                    + e.getMessage());
        }
        if (leaf.getBasicConstraints() >= 0) {
            throw new SnapshotRejectedException(ReloadResult.NOT_AN_SVID, "certificate is a CA (cA=true)");
        }
        if (expectedId.isPresent() && !expectedId.get().equals(id)) {
            throw new SnapshotRejectedException(ReloadResult.NOT_AN_SVID, "certificate carries " + id
                    + " (expected: " + expectedId.get() + ")");
        }
        Date now = Date.from(clock.instant());
        try {
            leaf.checkValidity(now);
        } catch (CertificateExpiredException e) {
            throw new SnapshotRejectedException(ReloadResult.EXPIRED, "certificate expired at "
                    + leaf.getNotAfter().toInstant());
        } catch (CertificateNotYetValidException e) {
            throw new SnapshotRejectedException(ReloadResult.NOT_YET_VALID, "certificate is not valid before "
                    + leaf.getNotBefore().toInstant());
        }
        try {
            new SpiffeTrustManager(() -> bundle, x -> true, () -> now).verify(chain.toArray(new X509Certificate[0]));
        } catch (CertificateException e) {
            throw new SnapshotRejectedException(ReloadResult.UNTRUSTED_CHAIN, e.getMessage());
        }
        if (key == null || !keyMatches(key, leaf.getPublicKey())) {
            throw new SnapshotRejectedException(ReloadResult.KEY_MISMATCH,
                    "private key does not belong to the certificate");
        }
        return new CertificateSnapshot(chain, key, bundle, id, fingerprint(chain, key, bundle));
    }

    /** Signs a random challenge with the private key and verifies it with the certificate's public key. */
    static boolean keyMatches(PrivateKey key, PublicKey pub) {
        if (!key.getAlgorithm().equals(pub.getAlgorithm())) {
            return false;
        }
        String alg = switch (pub.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null;
        };
        if (alg == null) {
            return false;
        }
        try {
            byte[] challenge = new byte[32];
            RANDOM.nextBytes(challenge);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(challenge);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(pub);
            v.update(challenge);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static String fingerprint(List<X509Certificate> chain, PrivateKey key, List<X509Certificate> bundle) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            for (X509Certificate c : chain) {
                out.writeBytes(c.getEncoded());
            }
            out.writeBytes(key.getEncoded());
            for (X509Certificate c : bundle) {
                out.writeBytes(c.getEncoded());
            }
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
        return Svids.sha256Hex(out.toByteArray());
    }
}
