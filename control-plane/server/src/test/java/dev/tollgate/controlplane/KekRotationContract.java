package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.UpstreamSecretRequest;
import dev.tollgate.controlplane.ca.CaKeyException;
import dev.tollgate.controlplane.store.AuditRecord;
import dev.tollgate.controlplane.store.Store;

/**
 * KEK rotation ({@code ./tollgate control-plane kek rotate --new-kek-file}) against a real database: every sealed
 * value (CA keys, token signing keys, audit checkpoint keys, upstream secrets) opens under the new KEK afterwards,
 * the old KEK is refused at start-up with a clear error, and a rotation that fails changes nothing. Runs once per
 * database.
 */
abstract class KekRotationContract {
    static final String OLD_KEK = "old-key-encryption-key-0123456789";
    static final String NEW_KEK = "new-key-encryption-key-9876543210";
    static final String VALUE = "legacy-api-key-4c1d6e0f";

    @TempDir
    Path dir;

    Path oldKek;
    Path newKek;
    String url;

    /** A fresh database URL, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    @BeforeEach
    void files() throws Exception {
        oldKek = Files.writeString(dir.resolve("old.kek"), OLD_KEK + "\n");
        newKek = Files.writeString(dir.resolve("new.kek"), NEW_KEK + "\n");
        url = databaseUrl();
    }

    TestControlPlane start(Path kek) {
        return TestControlPlane.start(dir.resolve("cp"), url, Clock.systemUTC(), Map.of("kek.file", kek.toString()));
    }

    String dbUrl() {
        return url != null ? url : "jdbc:sqlite:" + dir.resolve("cp").resolve("control-plane.db");
    }

    /** Runs the real command line: {@code control-plane --data-dir D [--database-url U] --kek-file OLD kek rotate ...}. */
    record Run(int code, String out, String err) {
    }

    Run rotate(Path current, Path next) {
        List<String> args = new ArrayList<>(List.of("--data-dir", dir.resolve("cp").toString(),
                "--trust-domain", TestControlPlane.TRUST_DOMAIN, "--kek-file", current.toString()));
        if (url != null) {
            args.addAll(List.of("--database-url", url));
        }
        args.addAll(List.of("kek", "rotate", "--new-kek-file", next.toString()));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new ControlPlaneCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args.toArray(new String[0]));
        return new Run(code, out.toString(), err.toString());
    }

    /** A control plane with every kind of sealed value: CA and signing and checkpoint keys, an upstream secret. */
    String populate() throws SQLException {
        try (TestControlPlane tcp = start(oldKek)) {
            SpiffeId batch = TestControlPlane.agent("batch");
            tcp.register(batch);
            long now = System.currentTimeMillis();
            try (Connection c = DriverManager.getConnection(dbUrl()); PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO governance_exception (id, waive, workload, upstream, justification, human_owner, "
                            + "requested_by, created_at, approved_by, approved_at, expires_at, review_by) VALUES "
                            + "('exc-1', 'inject-credential', ?, 'legacy.internal:443', 'legacy', 'bob@example.com', "
                            + "'alice', ?, 'carol', ?, ?, ?)")) {
                ps.setString(1, batch.toString());
                ps.setLong(2, now);
                ps.setLong(3, now);
                ps.setLong(4, now + Duration.ofDays(7).toMillis());
                ps.setLong(5, now + Duration.ofDays(7).toMillis());
                ps.executeUpdate();
            }
            tcp.admin().putUpstreamSecret(new UpstreamSecretRequest("legacy-key", batch.toString(),
                    "legacy.internal:443", "exc-1", VALUE, "bob@example.com", "team", 86_400L));
            tcp.admin().checkpointAudit();
            assertThat(tcp.cp.store().sealedItems()).extracting(Store.SealedItem::kind)
                    .contains(Store.SealedKind.values());
            return tcp.cp.store().kekIdentity("unused", java.time.Instant.now()).id();
        }
    }

    @Test
    void rotationResealsEverythingUnderTheNewKekAndTheOldOneIsRefusedAtStart() throws Exception {
        String before = populate();

        Run r = rotate(oldKek, newKek);

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains(before).contains("re-sealed 1 upstream secret").contains("re-sealed 1 ca");
        assertThat(r.out() + r.err()).doesNotContain(OLD_KEK).doesNotContain(NEW_KEK).doesNotContain(VALUE);
        assertThatThrownBy(() -> start(oldKek)).isInstanceOf(CaKeyException.class)
                .hasMessageContaining("retired").hasMessageContaining(before).hasMessageContaining("new KEK");
        try (TestControlPlane tcp = start(newKek)) {
            String after = tcp.cp.store().kekIdentity("unused", java.time.Instant.now()).id();
            assertThat(after).isNotEqualTo(before);
            // the CA signs, the signing key signs, the checkpoint key signs, the secret opens
            SpiffeId batch = TestControlPlane.agent("batch");
            var sidecar = tcp.as(tcp.join(batch, 600L));
            assertThat(sidecar.upstreamSecretValue("legacy-key").value()).isEqualTo(VALUE);
            assertThat(tcp.admin().upstreamSecret("legacy-key").sealedBy()).isEqualTo(after);
            assertThat(tcp.admin().checkpointAudit().seq()).isPositive();
            assertThat(tcp.admin().verifyAudit().intact()).isTrue();
            InventoryAssetView kek = tcp.admin().inventory(Map.of("kind", "kek")).assets().get(0);
            assertThat(kek.id()).isEqualTo(after);
            List<AuditRecord> rotated = tcp.cp.store().audit(0, 10_000).stream()
                    .filter(a -> a.event().kind().equals("kek.rotated")).toList();
            assertThat(rotated).hasSize(1);
            assertThat(rotated.get(0).event().subject()).isEqualTo(after);
            assertThat(rotated.get(0).event().details()).containsEntry("previousKek", before)
                    .containsEntry("upstream_secretResealed", 1L);
            assertThat(tcp.cp.store().audit(0, 10_000).toString()).doesNotContain(VALUE);
        }
    }

    @Test
    void failedRotationChangesNothingAndEverythingStaysReadableUnderTheOldKek() throws Exception {
        String before = populate();
        String sealedBefore;
        try (Connection c = DriverManager.getConnection(dbUrl());
             var rs = c.createStatement().executeQuery("SELECT sealed_value FROM upstream_secret")) {
            rs.next();
            sealedBefore = rs.getString(1);
        }

        // the last statement of the rotation's transaction fails, after every value was re-written in it
        Run r;
        try (InjectedFailure f = InjectedFailure.onInsert(dbUrl(), "kek_identity", "1 = 1")) {
            r = rotate(oldKek, newKek);
        }

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("nothing changed");
        try (Connection c = DriverManager.getConnection(dbUrl());
             var rs = c.createStatement().executeQuery("SELECT sealed_value FROM upstream_secret")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo(sealedBefore);
        }
        assertThatThrownBy(() -> start(newKek)).isInstanceOf(CaKeyException.class)
                .hasMessageContaining("not the KEK").hasMessageContaining(before);
        try (TestControlPlane tcp = start(oldKek)) {
            assertThat(tcp.cp.store().kekIdentity("unused", java.time.Instant.now()).id()).isEqualTo(before);
            var sidecar = tcp.as(tcp.join(TestControlPlane.agent("batch"), 600L));
            assertThat(sidecar.upstreamSecretValue("legacy-key").value()).isEqualTo(VALUE);
            assertThat(tcp.admin().checkpointAudit().seq()).isPositive();
            assertThat(tcp.cp.store().audit(0, 10_000)).noneMatch(a -> a.event().kind().equals("kek.rotated"));
        }
    }

    @Test
    void wrongCurrentKekOrTheSameKekIsRefusedAndNothingChanges() throws Exception {
        String before = populate();
        Path wrong = Files.writeString(dir.resolve("wrong.kek"), "wrong-key-encryption-key-000000");

        Run withWrong = rotate(wrong, newKek);
        Run withSame = rotate(oldKek, oldKek);

        assertThat(withWrong.code()).isEqualTo(1);
        assertThat(withWrong.err()).contains("not the KEK this database is sealed under");
        assertThat(withSame.code()).isEqualTo(1);
        assertThat(withSame.err()).contains("same as the current one");
        try (TestControlPlane tcp = start(oldKek)) {
            assertThat(tcp.cp.store().kekIdentity("unused", java.time.Instant.now()).id()).isEqualTo(before);
        }
    }
}
