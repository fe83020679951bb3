package dev.tollgate.proxy.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Date;
import java.util.List;
import java.util.function.Predicate;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.InvalidSvidException;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.proxy.metrics.HandshakeResult;

/**
 * Verifies a peer's X.509-SVID for one side of an mTLS connection and says why it refused: the leaf must be an SVID
 * (exactly one URI SAN, not a CA, digitalSignature key usage, the right extended key usage), valid now, chained to
 * the trust bundle (via {@link SpiffeTrustManager}, which never looks at host names) and accepted by the predicate.
 * Each refusal is a {@link PeerCertificateException} carrying its {@link HandshakeResult}.
 */
public final class PeerTrustManager extends X509ExtendedTrustManager {
    private static final String EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    static final String EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    private final List<X509Certificate> bundle;
    private final Predicate<SpiffeId> accepted;
    private final HandshakeResult refusal;
    private final Clock clock;
    private final Verified verified;

    /** Told of every client chain this trust manager accepted during a handshake, with the handshake's engine. */
    @FunctionalInterface
    public interface Verified {
        void clientChain(PeerTrustManager verifier, SSLEngine engine, X509Certificate[] chain, SpiffeId id);
    }

    /**
     * @param accepted which SPIFFE IDs are accepted
     * @param refusal  how a refusal by the predicate is counted ({@code UNEXPECTED_SPIFFE_ID} for upstreams)
     */
    public PeerTrustManager(List<X509Certificate> bundle, Predicate<SpiffeId> accepted, HandshakeResult refusal,
                            Clock clock) {
        this(bundle, accepted, refusal, clock, (verifier, engine, chain, id) -> { });
    }

    /** As above; {@code verified} hears of each client chain accepted during a handshake on an engine. */
    public PeerTrustManager(List<X509Certificate> bundle, Predicate<SpiffeId> accepted, HandshakeResult refusal,
                            Clock clock, Verified verified) {
        this.bundle = List.copyOf(bundle);
        this.accepted = accepted;
        this.refusal = refusal;
        this.clock = clock;
        this.verified = verified;
    }

    /** Validates and returns the peer's SPIFFE ID. */
    public SpiffeId verify(X509Certificate[] chain, String requiredEku) throws PeerCertificateException {
        if (chain == null || chain.length == 0) {
            throw new PeerCertificateException(HandshakeResult.NO_CLIENT_CERTIFICATE, "peer presented no certificate");
        }
        X509Certificate leaf = chain[0];
        SpiffeId id;
        try {
            id = Svids.spiffeId(leaf);
        } catch (InvalidSvidException e) {
            throw new PeerCertificateException(HandshakeResult.NOT_AN_SVID, "peer certificate is not an X.509-SVID: "
                    + e.getMessage());
        }
        if (leaf.getBasicConstraints() >= 0) {
            throw new PeerCertificateException(HandshakeResult.NOT_AN_SVID, "peer leaf certificate is a CA");
        }
        boolean[] ku = leaf.getKeyUsage();
        if (ku != null && (ku.length == 0 || !ku[0])) {
            throw new PeerCertificateException(HandshakeResult.NOT_AN_SVID,
                    "peer leaf key usage lacks digitalSignature");
        }
        try {
            List<String> eku = leaf.getExtendedKeyUsage();
            if (eku != null && !eku.contains(requiredEku)) {
                throw new PeerCertificateException(HandshakeResult.NOT_AN_SVID,
                        "peer leaf extended key usage lacks " + requiredEku);
            }
        } catch (CertificateParsingException e) {
            throw new PeerCertificateException(HandshakeResult.NOT_AN_SVID, "peer leaf extended key usage unparseable");
        }
        Date now = checkValidity(leaf, clock);
        try {
            new SpiffeTrustManager(() -> bundle, x -> true, () -> now).verify(chain);
        } catch (CertificateException e) {
            throw new PeerCertificateException(HandshakeResult.UNTRUSTED_CHAIN, e.getMessage());
        }
        if (!accepted.test(id)) {
            throw new PeerCertificateException(refusal, "peer SPIFFE ID " + id + " is not accepted");
        }
        return id;
    }

    /** Refuses a leaf that is not valid at the clock's now, which it returns. */
    static Date checkValidity(X509Certificate leaf, Clock clock) throws PeerCertificateException {
        Date now = Date.from(clock.instant());
        try {
            leaf.checkValidity(now);
        } catch (CertificateExpiredException e) {
            throw new PeerCertificateException(HandshakeResult.EXPIRED, "peer certificate expired at "
                    + leaf.getNotAfter().toInstant());
        } catch (CertificateNotYetValidException e) {
            throw new PeerCertificateException(HandshakeResult.NOT_YET_VALID, "peer certificate not valid before "
                    + leaf.getNotBefore().toInstant());
        }
        return now;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        verify(chain, EKU_CLIENT_AUTH);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        verify(chain, EKU_SERVER_AUTH);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        SpiffeId id;
        try {
            id = verify(chain, EKU_CLIENT_AUTH);
        } catch (PeerCertificateException e) {
            throw withAlert(engine, e);
        }
        if (engine != null) {
            verified.clientChain(this, engine, chain.clone(), id);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        try {
            verify(chain, EKU_SERVER_AUTH);
        } catch (PeerCertificateException e) {
            throw withAlert(engine, e);
        }
    }

    /**
     * For BoringSSL (netty-tcnative) the refusal as the verify error it turns into the TLS alert that names it:
     * {@code unknown_ca} for a chain not to the bundle, {@code certificate_expired} for a leaf out of its validity,
     * {@code bad_certificate} for anything else (not an SVID, an identity not accepted). Any other exception becomes
     * {@code internal_error}. The refusal stays the cause, so the handshake is still counted by its reason.
     */
    static CertificateException withAlert(SSLEngine engine, PeerCertificateException e) {
        if (!(engine instanceof io.netty.handler.ssl.ReferenceCountedOpenSslEngine)) {
            return e;
        }
        int code = switch (e.result()) {
            case EXPIRED -> io.netty.internal.tcnative.CertificateVerifier.X509_V_ERR_CERT_HAS_EXPIRED;
            case NOT_YET_VALID -> io.netty.internal.tcnative.CertificateVerifier.X509_V_ERR_CERT_NOT_YET_VALID;
            case UNTRUSTED_CHAIN ->
                    io.netty.internal.tcnative.CertificateVerifier.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
            default -> io.netty.internal.tcnative.CertificateVerifier.X509_V_ERR_CERT_REJECTED;
        };
        io.netty.handler.ssl.OpenSslCertificateException x =
                new io.netty.handler.ssl.OpenSslCertificateException(e.getMessage(), code);
        x.initCause(e);
        return x;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        verify(chain, EKU_CLIENT_AUTH);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        verify(chain, EKU_SERVER_AUTH);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return bundle.toArray(new X509Certificate[0]);
    }
}
