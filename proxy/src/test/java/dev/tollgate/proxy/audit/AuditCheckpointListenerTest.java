package dev.tollgate.proxy.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.tollgate.api.AuditCheckpoints;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.CheckpointKeySet;
import dev.tollgate.api.wire.CheckpointKeyView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.metrics.CheckpointRefusal;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** The sidecar keeps a checkpoint only when a key of its key set signed it and it does not go backwards. */
class AuditCheckpointListenerTest {
    static final String TD = "test.tollgate";

    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), Clock.systemUTC());
    final AuditCheckpointListener listener = new AuditCheckpointListener(metrics, TD);
    final KeyPair key = p256();
    final KeyPair other = p256();
    long revision;

    @Test
    void keepsACheckpointSignedByAKeyOfTheKeySet() {
        keys(key);
        listener.onEvent(checkpoint(signed(key, 5, "a")));
        assertThat(listener.latest()).map(AuditCheckpointView::seq).contains(5L);
        assertThat(listener.latestJson()).hasValueSatisfying(j -> assertThat(j).contains("\"seq\" : 5"));
    }

    @Test
    void refusesACheckpointSignedByAKeyOutsideTheKeySet() {
        keys(key);
        listener.onEvent(checkpoint(signed(other, 5, "a")));
        assertThat(listener.latest()).isEmpty();
        assertThat(metrics.checkpointRefusedCount(CheckpointRefusal.UNKNOWN_KEY)).isEqualTo(1);
    }

    @Test
    void refusesAnAlteredCheckpoint() {
        keys(key);
        AuditCheckpointView c = signed(key, 5, "a");
        listener.onEvent(checkpoint(new AuditCheckpointView(c.format(), c.origin(), c.seq(), hash("b"), c.at(),
                c.keyId(), c.signature(), c.publicKey())));
        assertThat(listener.latest()).isEmpty();
        assertThat(metrics.checkpointRefusedCount(CheckpointRefusal.BAD_SIGNATURE)).isEqualTo(1);
    }

    @Test
    void refusesACheckpointThatGoesBackwardsOrForks() {
        keys(key);
        listener.onEvent(checkpoint(signed(key, 9, "a")));
        listener.onEvent(checkpoint(signed(key, 7, "b")));
        listener.onEvent(checkpoint(signed(key, 9, "c")));
        listener.onEvent(checkpoint(signed(key, 9, "a")));
        assertThat(listener.latest()).map(AuditCheckpointView::headHash).contains(hash("a"));
        assertThat(metrics.checkpointRefusedCount(CheckpointRefusal.BACKWARDS)).isEqualTo(1);
        assertThat(metrics.checkpointRefusedCount(CheckpointRefusal.FORKED)).isEqualTo(1);
    }

    @Test
    void refusesAnotherTrustDomainsOrAMalformedCheckpoint() {
        keys(key);
        AuditCheckpointView c = signed(key, 5, "a");
        String text = AuditCheckpoints.signedText("elsewhere", 5, hash("a"), c.at().toEpochMilli(), c.keyId());
        listener.onEvent(checkpoint(new AuditCheckpointView(c.format(), "elsewhere", 5, hash("a"), c.at(), c.keyId(),
                AuditCheckpoints.sign(key.getPrivate(), text), c.publicKey())));
        listener.onEvent(new WatchEvent(++revision, WatchEvent.AUDIT_CHECKPOINT, Instant.now(),
                Json.mapper().createObjectNode().put("seq", "x")));
        assertThat(listener.latest()).isEmpty();
        assertThat(metrics.checkpointRefusedCount(CheckpointRefusal.MALFORMED)).isEqualTo(2);
    }

    @Test
    void aResyncAppliesTheKeysBeforeTheCheckpointAndARotatedSetStillVerifiesTheRetiredKeysCheckpoints() {
        ObjectNode resync = Json.mapper().createObjectNode();
        resync.set(WatchEvent.AUDIT_CHECKPOINT_KEYS, Json.mapper().valueToTree(set(other, key)));
        resync.set(WatchEvent.AUDIT_CHECKPOINT, Json.mapper().valueToTree(signed(key, 3, "a")));
        listener.onResync(new WatchEvent(++revision, WatchEvent.RESYNC, Instant.now(), resync));
        assertThat(listener.latest()).map(AuditCheckpointView::seq).contains(3L);
        listener.onEvent(checkpoint(signed(other, 4, "b")));
        assertThat(listener.latest()).map(AuditCheckpointView::seq).contains(4L);
    }

    private void keys(KeyPair... ks) {
        listener.onEvent(new WatchEvent(++revision, WatchEvent.AUDIT_CHECKPOINT_KEYS, Instant.now(),
                Json.mapper().valueToTree(set(ks))));
    }

    private static CheckpointKeySet set(KeyPair... ks) {
        return new CheckpointKeySet(java.util.Arrays.stream(ks).map(k -> new CheckpointKeyView(
                AuditCheckpoints.keyId(k.getPublic()), "ES256", "active", AuditCheckpoints.publicKeyPem(k.getPublic()),
                Instant.now(), Instant.now())).toList());
    }

    private WatchEvent checkpoint(AuditCheckpointView c) {
        return new WatchEvent(++revision, WatchEvent.AUDIT_CHECKPOINT, Instant.now(), Json.mapper().valueToTree(c));
    }

    static AuditCheckpointView signed(KeyPair k, long seq, String head) {
        Instant at = Instant.ofEpochMilli(Instant.now().toEpochMilli());
        String keyId = AuditCheckpoints.keyId(k.getPublic());
        String sig = AuditCheckpoints.sign(k.getPrivate(),
                AuditCheckpoints.signedText(TD, seq, hash(head), at.toEpochMilli(), keyId));
        return new AuditCheckpointView(AuditCheckpoints.FORMAT, TD, seq, hash(head), at, keyId, sig,
                AuditCheckpoints.publicKeyPem(k.getPublic()));
    }

    static String hash(String s) {
        return s.repeat(64).substring(0, 64);
    }

    static KeyPair p256() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
