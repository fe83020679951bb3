package dev.tollgate.proxy.governance;

import java.math.BigInteger;
import java.security.PublicKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.UpstreamTlsObservation;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.TlsVersionTag;

/**
 * What this sidecar saw of its upstreams' TLS: one {@link UpstreamTlsObservation} per TLS handshake it originated,
 * deduplicated (the same upstream with the same values is reported once per shipping interval: the first sighting's
 * time) and bounded ({@link #MAX_PENDING} distinct observations wait; more are dropped and counted), taken by the
 * decision shipper into each batch ({@link #drain}) and put back when the batch could not be delivered
 * ({@link #restore}). Every handshake is counted per protocol version ({@code tollgate.proxy.upstream.tls.handshakes}).
 */
public final class UpstreamTlsReporter {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(UpstreamTlsReporter.class);
    /** Most distinct observations waiting to be shipped. */
    public static final int MAX_PENDING = 256;

    private final Clock clock;
    private final ProxyMetrics metrics;
    /** Keyed by the observation without its time; guarded by itself. */
    private final Map<UpstreamTlsObservation, UpstreamTlsObservation> pending = new LinkedHashMap<>();

    private final boolean ships;

    /**
     * @param ships whether observations are kept for a shipper (a sidecar with a control plane); false: handshakes
     *              are only counted
     */
    public UpstreamTlsReporter(Clock clock, ProxyMetrics metrics, boolean ships) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.ships = ships;
    }

    /**
     * A handshake with {@code upstream} ({@code host:port}) completed with this session: counted, and recorded when the
     * peer showed a certificate (the control plane keeps observations of a certificate only). Never throws.
     */
    public void handshake(String upstream, SSLSession session) {
        try {
            metrics.upstreamTlsHandshake(TlsVersionTag.of(session.getProtocol()));
            UpstreamTlsObservation o = ships ? observation(upstream, session, clock.instant()) : null;
            if (o != null) {
                observe(o);
            }
        } catch (RuntimeException e) {
            LOG.warn("upstream TLS of {} not recorded: {}", upstream, e.toString());
        }
    }

    /** Records one observation unless the same (but for its time) waits already. */
    public void observe(UpstreamTlsObservation o) {
        UpstreamTlsObservation key = withoutTime(o);
        boolean dropped;
        synchronized (pending) {
            if (pending.containsKey(key)) {
                return;
            }
            dropped = pending.size() >= MAX_PENDING;
            if (!dropped) {
                pending.put(key, o);
            }
        }
        if (dropped) {
            metrics.upstreamTlsDropped(1);
        }
    }

    /** Takes every waiting observation, oldest first. */
    public List<UpstreamTlsObservation> drain() {
        synchronized (pending) {
            List<UpstreamTlsObservation> out = new ArrayList<>(pending.values());
            pending.clear();
            return out;
        }
    }

    /** Puts back observations whose batch was not delivered (ahead of newer ones; over the cap: dropped, counted). */
    public void restore(Collection<UpstreamTlsObservation> notSent) {
        int dropped = 0;
        synchronized (pending) {
            Map<UpstreamTlsObservation, UpstreamTlsObservation> merged = new LinkedHashMap<>();
            for (UpstreamTlsObservation o : notSent) {
                merged.putIfAbsent(withoutTime(o), o);
            }
            for (Map.Entry<UpstreamTlsObservation, UpstreamTlsObservation> e : pending.entrySet()) {
                merged.putIfAbsent(e.getKey(), e.getValue());
            }
            pending.clear();
            for (Map.Entry<UpstreamTlsObservation, UpstreamTlsObservation> e : merged.entrySet()) {
                if (pending.size() >= MAX_PENDING) {
                    dropped++;
                } else {
                    pending.put(e.getKey(), e.getValue());
                }
            }
        }
        if (dropped > 0) {
            metrics.upstreamTlsDropped(dropped);
        }
    }

    /** Observations waiting. */
    public int pending() {
        synchronized (pending) {
            return pending.size();
        }
    }

    /**
     * What a session shows of the upstream: protocol, cipher and the peer's leaf certificate; null when the peer sent
     * no certificate (nothing the control plane's inventory could keep).
     */
    public static UpstreamTlsObservation observation(String upstream, SSLSession s, Instant at) {
        X509Certificate leaf = null;
        try {
            Certificate[] chain = s.getPeerCertificates();
            if (chain != null && chain.length > 0 && chain[0] instanceof X509Certificate x) {
                leaf = x;
            }
        } catch (SSLPeerUnverifiedException e) {
            // no certificate
        }
        if (leaf == null) {
            return null;
        }
        PublicKey key = leaf.getPublicKey();
        return new UpstreamTlsObservation(upstream, s.getProtocol(), s.getCipherSuite(), Svids.keyAlgorithm(key), Svids.keyBits(key),
                leaf.getSigAlgName(), leaf.getIssuerX500Principal().getName(), leaf.getNotAfter().toInstant(),
                peerId(leaf), serial(leaf.getSerialNumber()), at);
    }

    /** The SPIFFE ID (URI SAN {@code spiffe://…}) of a certificate, or else its first DNS name, or null. */
    static String peerId(X509Certificate c) {
        try {
            Collection<List<?>> sans = c.getSubjectAlternativeNames();
            if (sans == null) {
                return null;
            }
            String dns = null;
            for (List<?> san : sans) {
                Object type = san.get(0);
                Object value = san.get(1);
                if (Integer.valueOf(6).equals(type) && value instanceof String u
                        && u.toLowerCase(Locale.ROOT).startsWith("spiffe://")) {
                    return u;
                }
                if (dns == null && Integer.valueOf(2).equals(type) && value instanceof String d) {
                    dns = d;
                }
            }
            return dns;
        } catch (CertificateParsingException e) {
            return null;
        }
    }

    /** A serial as {@code openssl x509 -serial} prints it: upper-case hex, an even number of digits. */
    public static String serial(BigInteger serial) {
        String hex = serial.abs().toString(16).toUpperCase(Locale.ROOT);
        if (hex.length() % 2 == 1) {
            hex = "0" + hex;
        }
        return serial.signum() < 0 ? "-" + hex : hex;
    }

    private static UpstreamTlsObservation withoutTime(UpstreamTlsObservation o) {
        return new UpstreamTlsObservation(o.upstream(), o.protocol(), o.cipher(), o.peerKeyType(), o.peerKeyBits(),
                o.signatureAlgorithm(), o.issuer(), o.notAfter(), o.peerId(), o.serial(), null);
    }
}
