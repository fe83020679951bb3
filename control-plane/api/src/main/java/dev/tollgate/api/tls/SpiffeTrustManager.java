package dev.tollgate.api.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collection;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

import dev.tollgate.api.SpiffeId;

/**
 * Trusts a peer when its chain leads to a certificate of the current trust bundle and its leaf's single URI SAN is
 * a SPIFFE ID the predicate accepts. Host names are never checked: SVIDs carry only a URI SAN.
 */
public final class SpiffeTrustManager extends X509ExtendedTrustManager {
    private final Supplier<? extends Collection<X509Certificate>> bundle;
    private final Predicate<SpiffeId> allowed;
    private final Supplier<Date> now;

    public SpiffeTrustManager(Supplier<? extends Collection<X509Certificate>> bundle, Predicate<SpiffeId> allowed) {
        this(bundle, allowed, Date::new);
    }

    public SpiffeTrustManager(Supplier<? extends Collection<X509Certificate>> bundle, Predicate<SpiffeId> allowed,
                              Supplier<Date> now) {
        this.bundle = Objects.requireNonNull(bundle, "bundle");
        this.allowed = Objects.requireNonNull(allowed, "allowed");
        this.now = Objects.requireNonNull(now, "now");
    }

    /** Trusts exactly one SPIFFE ID. */
    public static SpiffeTrustManager expecting(Supplier<? extends Collection<X509Certificate>> bundle, SpiffeId id) {
        return new SpiffeTrustManager(bundle, id::equals);
    }

    /** Validates the chain and returns the leaf's SPIFFE ID; throws when it is not trusted. */
    public SpiffeId verify(X509Certificate[] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("peer presented no certificate");
        }
        SpiffeId id;
        try {
            id = Svids.spiffeId(chain[0]);
        } catch (InvalidSvidException e) {
            throw new CertificateException("peer certificate is not an X.509-SVID: " + e.getMessage());
        }
        if (chain[0].getBasicConstraints() >= 0) {
            throw new CertificateException("peer leaf certificate is a CA (cA=true)");
        }
        Collection<X509Certificate> roots = bundle.get();
        if (roots == null || roots.isEmpty()) {
            throw new CertificateException("no trust bundle");
        }
        Set<TrustAnchor> anchors = new HashSet<>();
        for (X509Certificate root : roots) {
            anchors.add(new TrustAnchor(root, null));
        }
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            List<X509Certificate> path = Arrays.asList(chain);
            // A bundle CA sent by the peer is an anchor, not part of the path.
            int end = path.size();
            while (end > 1 && roots.contains(path.get(end - 1))) {
                end--;
            }
            PKIXParameters params = new PKIXParameters(anchors);
            params.setRevocationEnabled(false);
            params.setDate(now.get());
            // The longest leading part of the chain that leads to a trusted CA: a peer may send extra CA
            // certificates (a control plane sends its CA cross-signed by older CAs for peers that trust only those).
            GeneralSecurityException failure = null;
            boolean valid = false;
            for (int n = end; n >= 1 && !valid; n--) {
                try {
                    CertPath certPath = cf.generateCertPath(path.subList(0, n));
                    CertPathValidator.getInstance("PKIX").validate(certPath, params);
                    valid = true;
                } catch (java.security.cert.CertPathValidatorException e) {
                    if (failure == null) {
                        failure = e;
                    }
                }
            }
            if (!valid) {
                throw failure;
            }
        } catch (GeneralSecurityException e) {
            throw new CertificateException("peer chain does not lead to the trust bundle: " + e.getMessage(), e);
        }
        if (!allowed.test(id)) {
            throw new CertificateException("peer SPIFFE ID " + id + " is not allowed");
        }
        return id;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        verify(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        verify(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        verify(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        verify(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        verify(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        verify(chain);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        Collection<X509Certificate> roots = bundle.get();
        return roots == null ? new X509Certificate[0] : roots.toArray(new X509Certificate[0]);
    }
}
