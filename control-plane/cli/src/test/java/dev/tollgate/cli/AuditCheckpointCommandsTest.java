package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.controlplane.store.AuditEvent;
import dev.tollgate.controlplane.store.AuditTampering;

/**
 * {@code ctl audit verify} against the outside finding's attacks, and {@code ctl audit checkpoint export} with
 * {@code ctl audit verify --against FILE}: the file an auditor kept proves a cut history even after the database's
 * checkpoints are gone too and the control plane restarted.
 */
class AuditCheckpointCommandsTest {
    @TempDir
    Path dir;

    TestControlPlane tcp;
    String creds;

    @BeforeEach
    void start() {
        tcp = TestControlPlane.start(dir.resolve("cp"));
        creds = tcp.cp.operatorDir().toString();
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    record Result(int code, String out, String err) {
    }

    Result ctl(String... args) {
        List<String> all = new ArrayList<>(List.of("ctl", "--credential-dir", creds));
        all.addAll(List.of(args));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Tollgate.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(all.toArray(new String[0]));
        return new Result(code, out.toString(), err.toString());
    }

    long decision(String outcome) {
        return tcp.cp.store().appendAudit(new AuditEvent(Instant.now(), "decision." + outcome,
                "spiffe://test.tollgate/agent/bot", "egress", "crm", outcome, null, Map.of("outcome", outcome))).seq();
    }

    Connection raw() throws Exception {
        Connection c = DriverManager.getConnection(tcp.cp.config().database().url());
        try (java.sql.Statement s = c.createStatement()) {
            s.execute("PRAGMA busy_timeout = 10000");
        }
        return c;
    }

    @Test
    void verifyDetectsADeniedEventRewrittenToAllowedWithEveryHashRecomputed() throws Exception {
        long denied = decision("denied");
        Result created = ctl("audit", "checkpoint", "create");
        assertThat(created.code()).as(created.err()).isZero();
        assertThat(created.out()).contains("signed checkpoint at seq");
        Path kept = dir.resolve("kept.json");
        assertThat(ctl("audit", "checkpoint", "export", "--out", kept.toString()).code()).isZero();
        Result intact = ctl("audit", "verify", "--against", kept.toString());
        assertThat(intact.code()).as(intact.err()).isZero();
        assertThat(intact.out()).contains("audit chain intact", "signed checkpoints verified", "extends");

        try (Connection c = raw()) {
            AuditTampering.editResultAndRehash(c, denied, "allowed");
        }
        Result v = ctl("audit", "verify");
        assertThat(v.code()).isEqualTo(3);
        assertThat(v.out()).contains("audit chain BROKEN", "rewritten");
        assertThat(ctl("audit", "verify", "--against", kept.toString()).code()).isEqualTo(3);
    }

    @Test
    void aKeptCheckpointProvesACutHistoryAfterTheStoredCheckpointsAreDeletedAndTheControlPlaneRestarted()
            throws Exception {
        long keep = decision("denied");
        decision("denied");
        ctl("audit", "checkpoint", "create");
        Path kept = dir.resolve("kept.json");
        assertThat(ctl("audit", "checkpoint", "export", "--out", kept.toString()).code()).isZero();
        AuditCheckpointView file = Json.mapper().readValue(Files.readString(kept), AuditCheckpointView.class);
        assertThat(file.publicKey()).startsWith("-----BEGIN PUBLIC KEY-----");

        Result cut = ctl("audit", "verify");
        assertThat(cut.code()).isZero();
        try (Connection c = raw()) {
            AuditTampering.truncateAfter(c, keep);
        }
        assertThat(ctl("audit", "verify").code()).as("cut below a stored checkpoint").isEqualTo(3);
        try (Connection c = raw()) {
            AuditTampering.deleteCheckpointsAbove(c, 0);
        }
        tcp.close();
        tcp = TestControlPlane.start(dir.resolve("cp"));
        Result against = ctl("audit", "verify", "--against", kept.toString());
        assertThat(against.code()).isEqualTo(3);
        assertThat(against.out()).contains("event " + file.seq(), "missing");
    }

    @Test
    void anAlteredKeptFileIsRefused() throws Exception {
        decision("denied");
        ctl("audit", "checkpoint", "create");
        Path kept = dir.resolve("kept.json");
        ctl("audit", "checkpoint", "export", "--out", kept.toString());
        AuditCheckpointView c = Json.mapper().readValue(Files.readString(kept), AuditCheckpointView.class);
        Files.writeString(kept, Json.mapper().writeValueAsString(new AuditCheckpointView(c.format(), c.origin(),
                c.seq() + 1, c.headHash(), c.at(), c.keyId(), c.signature(), c.publicKey())));
        Result r = ctl("audit", "verify", "--against", kept.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("signature does not verify", "altered");
    }

    @Test
    void exportDoesNotFollowALinkPlantedAtAPredictableTemporaryName() throws Exception {
        decision("denied");
        ctl("audit", "checkpoint", "create");
        Path victim = dir.resolve("victim.txt");
        Files.writeString(victim, "precious\n");
        Path kept = dir.resolve("kept.json");
        Files.createSymbolicLink(dir.resolve("kept.json.tmp"), victim);

        assertThat(ctl("audit", "checkpoint", "export", "--out", kept.toString()).code()).isZero();

        assertThat(Files.readString(victim)).isEqualTo("precious\n");
        assertThat(Json.mapper().readValue(Files.readString(kept), AuditCheckpointView.class).seq()).isPositive();
        try (var left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".kept.json."));
        }
    }

    @Test
    void listsAndRotatesCheckpointKeys() {
        decision("denied");
        Result rotated = ctl("audit", "checkpoint-key", "rotate");
        assertThat(rotated.code()).as(rotated.err()).isZero();
        Result keys = ctl("audit", "checkpoint-key", "list");
        assertThat(keys.out()).contains("active", "retired");
        assertThat(ctl("audit", "checkpoint", "list").out()).contains("SEQ", "HEAD HASH");
        assertThat(ctl("audit", "verify").code()).isZero();
    }
}
