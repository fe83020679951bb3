package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.AuditCheckpoints;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.AuditVerificationView;
import dev.tollgate.api.wire.CheckpointKeyView;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.store.AuditEvent;
import dev.tollgate.controlplane.store.AuditTampering;

/**
 * Signed audit checkpoints against someone who can write the database but holds neither the KEK nor the control
 * plane process: the outside finding's two attacks (an event edited from denied to allowed with every later hash and
 * the head recomputed; the newest events deleted and the head rewound) pass the plain hash chain and are caught by
 * the checkpoints, by the API's verify and by verify against a checkpoint an auditor kept. Runs once per database.
 */
abstract class AuditCheckpointContract {
    @TempDir
    Path dir;

    TestControlPlane tcp;
    ControlPlaneClient admin;

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    @BeforeEach
    void startControlPlane() {
        start(Map.of());
    }

    void start(Map<String, String> overrides) {
        String url = databaseUrl();
        tcp = TestControlPlane.start(dir, url, Clock.systemUTC(), overrides);
        admin = tcp.admin();
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    /** A raw connection to the control plane's database, as an attacker with database access has. */
    Connection raw() throws SQLException {
        var d = tcp.cp.config().database();
        Connection c = DriverManager.getConnection(d.url(), d.user().orElse(null), d.password().orElse(null));
        if (d.url().startsWith("jdbc:sqlite:")) {
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA busy_timeout = 10000");
            }
        }
        return c;
    }

    /** Appends a sidecar's decision event and returns its sequence number. */
    long decision(String outcome) {
        return tcp.cp.store().appendAudit(new AuditEvent(Instant.now(), "decision." + outcome,
                "spiffe://test.tollgate/agent/bot", "egress", "crm", outcome, null,
                Map.of("outcome", outcome, "tool", "crm.export"))).seq();
    }

    @Test
    void editingADeniedEventToAllowedAndRehashingIsDetectedBySignedCheckpoints() throws Exception {
        long denied = decision("denied");
        decision("allowed");
        AuditCheckpointView kept = admin.checkpointAudit();
        decision("allowed");
        assertThat(admin.verifyAudit().intact()).isTrue();

        try (Connection c = raw()) {
            AuditTampering.editResultAndRehash(c, denied, "allowed");
        }

        assertThat(tcp.cp.store().verifyAudit().intact()).as("the plain hash chain is fooled").isTrue();
        AuditVerificationView v = admin.verifyAudit();
        assertThat(v.intact()).isFalse();
        assertThat(v.reason()).contains("does not have the hash checkpoint " + kept.seq() + " signed", "rewritten");
        AuditVerificationView against = admin.verifyAudit(kept);
        assertThat(against.intact()).isFalse();
        assertThat(against.reason()).contains("rewritten");
    }

    @Test
    void deletingTheNewestEventsAndRewindingTheHeadIsDetected() throws Exception {
        long keep = decision("denied");
        decision("denied");
        AuditCheckpointView kept = admin.checkpointAudit();

        try (Connection c = raw()) {
            AuditTampering.truncateAfter(c, keep);
        }

        assertThat(tcp.cp.store().verifyAudit().intact()).as("the plain hash chain is fooled").isTrue();
        AuditVerificationView v = admin.verifyAudit();
        assertThat(v.intact()).isFalse();
        assertThat(v.firstBrokenSeq()).isEqualTo(kept.seq());
        assertThat(v.reason()).contains("missing", "events cut below a signed checkpoint");
        assertThat(admin.verifyAudit(kept).intact()).isFalse();
    }

    @Test
    void truncationWithTheCheckpointsDeletedToo_isCaughtByTheRunningProcessAndByAKeptCheckpointAfterARestart()
            throws Exception {
        long keep = decision("denied");
        decision("denied");
        AuditCheckpointView kept = admin.checkpointAudit();
        try (Connection c = raw()) {
            AuditTampering.truncateAfter(c, keep);
            AuditTampering.deleteCheckpointsAbove(c, 0);
        }
        AuditVerificationView running = admin.verifyAudit();
        assertThat(running.intact()).as("the process remembers the checkpoint it signed").isFalse();
        assertThat(running.reason()).contains("checkpoint " + kept.seq(), "missing from the database");

        tcp.close();
        start(Map.of());
        // A fresh process has only the database: the auditor's kept checkpoint is what proves the cut.
        AuditVerificationView against = admin.verifyAudit(kept);
        assertThat(against.intact()).isFalse();
        assertThat(against.reason()).contains("event " + kept.seq(), "missing");
    }

    @Test
    void aRewriteWithTheCheckpointsDeletedIsNotSignedOverByTheRunningProcess() throws Exception {
        long denied = decision("denied");
        AuditCheckpointView kept = admin.checkpointAudit();
        try (Connection c = raw()) {
            AuditTampering.editResultAndRehash(c, denied, "allowed");
            AuditTampering.deleteCheckpointsAbove(c, 0);
        }
        decision("allowed"); // the chain moves on past the rewrite: the next checkpoint would cover it

        // neither on demand nor at its interval does it sign the forged head
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> admin.checkpointAudit())
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.status()).isEqualTo(409);
                    assertThat(e.reason()).isEqualTo("audit_chain_broken");
                });
        assertThat(tcp.cp.checkpoints().checkpointIfMoved()).isEmpty();
        assertThat(tcp.cp.store().latestAuditCheckpoint()).isEmpty();
        AuditVerificationView v = admin.verifyAudit();
        assertThat(v.intact()).isFalse();
        assertThat(v.reason()).contains("checkpoint " + kept.seq());
        assertThat(admin.verifyAudit(kept).intact()).isFalse();
    }

    @Test
    void aCheckpointSignedByAKeyThatIsNotACheckpointKeyIsRefused() throws Exception {
        decision("denied");
        admin.checkpointAudit();
        long seq = decision("allowed");
        String head = tcp.cp.store().auditHead().hash();
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair attacker = g.generateKeyPair();
        String keyId = AuditCheckpoints.keyId(attacker.getPublic());
        long at = Instant.now().toEpochMilli();
        String sig = AuditCheckpoints.sign(attacker.getPrivate(),
                AuditCheckpoints.signedText(TestControlPlane.TRUST_DOMAIN, seq, head, at, keyId));
        try (Connection c = raw()) {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO audit_checkpoint (seq, head_hash, origin, at, "
                    + "key_id, signature) VALUES (?, ?, ?, ?, ?, ?)")) {
                ps.setLong(1, seq);
                ps.setString(2, head);
                ps.setString(3, TestControlPlane.TRUST_DOMAIN);
                ps.setLong(4, at);
                ps.setString(5, keyId);
                ps.setString(6, sig);
                ps.executeUpdate();
            }
        }
        AuditVerificationView v = admin.verifyAudit();
        assertThat(v.intact()).isFalse();
        assertThat(v.reason()).contains("signed by key " + keyId, "not a checkpoint key");

        // Writing the attacker's public key into the key table does not help: its private key is not sealed
        // with the control plane's KEK.
        try (Connection c = raw()) {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO audit_checkpoint_key (key_id, state, "
                    + "public_key_pem, encrypted_private_key_pem, created_at, state_changed_at) VALUES (?, 'retired', "
                    + "?, ?, ?, ?)")) {
                ps.setString(1, keyId);
                ps.setString(2, AuditCheckpoints.publicKeyPem(attacker.getPublic()));
                ps.setString(3, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
                ps.setLong(4, at);
                ps.setLong(5, at);
                ps.executeUpdate();
            }
        }
        AuditVerificationView again = admin.verifyAudit();
        assertThat(again.intact()).isFalse();
        assertThat(again.reason()).contains("not sealed with this control plane's KEK");
        assertThat(admin.checkpointKeys()).extracting(CheckpointKeyView::keyId).doesNotContain(keyId);
    }

    @Test
    void aKeptCheckpointWhoseSignatureDoesNotVerifyIsRefused() {
        decision("denied");
        AuditCheckpointView kept = admin.checkpointAudit();
        AuditCheckpointView altered = new AuditCheckpointView(kept.format(), kept.origin(), kept.seq() - 1,
                kept.headHash(), kept.at(), kept.keyId(), kept.signature(), kept.publicKey());
        try {
            admin.verifyAudit(altered);
            throw new AssertionError("expected 400");
        } catch (ControlPlaneException e) {
            assertThat(e.status()).isEqualTo(400);
            assertThat(e.reason()).isEqualTo("invalid_checkpoint");
        }
        assertThat(admin.verifyAudit(kept).intact()).isTrue();
    }

    @Test
    void rotationKeepsOldCheckpointsVerifiable() {
        decision("denied");
        AuditCheckpointView first = admin.checkpointAudit();
        CheckpointKeyView rotated = admin.rotateCheckpointKey();
        assertThat(rotated.keyId()).isNotEqualTo(first.keyId());
        assertThat(rotated.state()).isEqualTo("active");
        AuditCheckpointView second = admin.latestAuditCheckpoint();
        assertThat(second.keyId()).as("a checkpoint with the new key follows the rotation").isEqualTo(rotated.keyId());
        assertThat(second.seq()).isGreaterThan(first.seq());

        List<CheckpointKeyView> keys = admin.checkpointKeys();
        assertThat(keys).extracting(CheckpointKeyView::keyId).containsExactly(rotated.keyId(), first.keyId());
        assertThat(keys.get(1).state()).isEqualTo("retired");
        assertThat(admin.audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("audit_checkpoint_key.rotate");
            assertThat(e.subject()).isEqualTo(rotated.keyId());
        });
        AuditVerificationView v = admin.verifyAudit();
        assertThat(v.intact()).as(v.reason()).isTrue();
        assertThat(v.checkpoints()).isGreaterThanOrEqualTo(2);
        assertThat(admin.verifyAudit(first).intact()).isTrue();
        AuditCheckpoints.verify(first, AuditCheckpoints.publicKey(keys.get(1).publicKey()));
    }

    @Test
    void theChainHeadIsCheckpointedPeriodicallyWhenItMoved() {
        tcp.close();
        start(Map.of("audit.checkpoint-interval", "200ms"));
        long seq = decision("denied");
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(admin.latestAuditCheckpoint().seq()).isGreaterThanOrEqualTo(seq));
        AuditCheckpointView latest = admin.latestAuditCheckpoint();
        AuditCheckpoints.verify(latest, AuditCheckpoints.publicKey(admin.checkpointKeys().get(0).publicKey()));
        assertThat(latest.publicKey()).startsWith("-----BEGIN PUBLIC KEY-----");
        assertThat(tcp.cp.registry().get(ControlPlaneMetrics.AUDIT_CHECKPOINT_SEQ).gauge().value())
                .isGreaterThanOrEqualTo(seq);
    }

    @Test
    void aChainThatNoLongerExtendsTheLatestCheckpointIsNeverSigned() throws Exception {
        long denied = decision("denied");
        admin.checkpointAudit();
        try (Connection c = raw()) {
            AuditTampering.editResultAndRehash(c, denied, "allowed");
        }
        try {
            admin.checkpointAudit();
            throw new AssertionError("expected 409");
        } catch (ControlPlaneException e) {
            assertThat(e.status()).isEqualTo(409);
            assertThat(e.reason()).isEqualTo("audit_chain_broken");
        }
        assertThat(tcp.cp.registry().get(ControlPlaneMetrics.AUDIT_CHECKPOINTS).tag("result", "chain_broken")
                .counter().count()).isGreaterThanOrEqualTo(1);
    }
}
