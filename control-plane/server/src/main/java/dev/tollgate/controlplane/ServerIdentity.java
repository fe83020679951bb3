package dev.tollgate.controlplane;

import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import javax.net.ssl.SSLException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.netty.handler.ssl.SslContext;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.controlplane.api.ServerTls;
import dev.tollgate.controlplane.ca.CaManager;
import dev.tollgate.controlplane.ca.IssuedCertificate;
import dev.tollgate.controlplane.store.CaState;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.SvidRecord;

/**
 * The control plane's own serving certificate: issued by its CA for {@code spiffe://<td>/tollgate/control-plane},
 * re-issued at half its lifetime and whenever another CA starts signing, swapped atomically (new handshakes get the
 * new one, existing connections keep theirs). A failed re-issue keeps the current certificate.
 */
final class ServerIdentity {
    private static final Logger LOG = LoggerFactory.getLogger(ServerIdentity.class);

    private record Current(SslContext context, X509Certificate leaf, String caId) {
    }

    private final CaManager ca;
    private final Store store;
    private final SpiffeId id;
    private final Duration ttl;
    private final Clock clock;
    private final AtomicReference<Current> current = new AtomicReference<>();

    ServerIdentity(CaManager ca, Store store, SpiffeId id, Duration ttl, Clock clock) throws SSLException {
        this.ca = ca;
        this.store = store;
        this.id = id;
        this.ttl = ttl;
        this.clock = clock;
        current.set(issue());
    }

    SslContext context() {
        return current.get().context();
    }

    X509Certificate leaf() {
        return current.get().leaf();
    }

    /** Re-issues when past half life or when the active CA changed; keeps the old state on failure. */
    void refreshIfDue() {
        Current c = current.get();
        Instant nb = c.leaf().getNotBefore().toInstant();
        Instant na = c.leaf().getNotAfter().toInstant();
        Instant half = nb.plus(Duration.between(nb, na).dividedBy(2));
        boolean caChanged = ca.status().stream().noneMatch(s -> s.state() == CaState.ACTIVE && s.id().equals(c.caId()));
        if (clock.instant().isBefore(half) && !caChanged) {
            return;
        }
        try {
            current.set(issue());
            LOG.info("re-issued the API certificate ({})", caChanged ? "new signing CA" : "half life reached");
        } catch (SSLException | RuntimeException e) {
            LOG.error("re-issuing the API certificate failed; keeping the current one until {}", na, e);
        }
    }

    boolean valid() {
        return clock.instant().isBefore(current.get().leaf().getNotAfter().toInstant());
    }

    private Current issue() throws SSLException {
        KeyPair kp = Csrs.newP256();
        IssuedCertificate cert = ca.issue(id, kp.getPublic(), ttl, Optional.empty());
        X509Certificate leaf = cert.leaf();
        store.insertSvid(new SvidRecord(Svids.serialHex(leaf), id, cert.caId(), "control_plane",
                Svids.fingerprint(leaf.getPublicKey()), Svids.keyAlgorithm(leaf.getPublicKey()),
                Svids.keyBits(leaf.getPublicKey()), leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant(),
                clock.instant(), Pem.encode(leaf)));
        // Then the active CA cross-signed by each older CA of the bundle: a sidecar whose configured trust anchor
        // predates a rotation can still join (SpiffeTrustManager validates the longest part that leads to its CAs).
        List<X509Certificate> chain = new java.util.ArrayList<>(cert.chain());
        chain.addAll(ca.crossCertificates());
        return new Current(ServerTls.build(kp.getPrivate(), chain, () -> ca.bundle().anchors()), leaf, cert.caId());
    }
}
