package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.controlplane.TestControlPlane;

/**
 * {@code ctl upstream-secret}: the value goes in from a file or standard input only and never comes out of any
 * command. The bound {@code inject-credential} exception is requested by the operator and approved by a second admin,
 * through the API.
 */
class UpstreamSecretCommandsTest {
    static final String VALUE = "Basic-c3ZjLWJhdGNoOmh1bnRlcjI-value";
    static final String AGENT = "spiffe://test.tollgate/agent/nightly-batch";

    @TempDir
    Path dir;

    TestControlPlane tcp;
    String creds;
    String exceptionId;

    @BeforeEach
    void start() throws Exception {
        tcp = TestControlPlane.start(dir.resolve("cp"));
        creds = tcp.cp.operatorDir().toString();
        tcp.register(dev.tollgate.api.SpiffeId.parse(AGENT));
        exceptionId = tcp.admin().requestException(new ExceptionRequest("inject-credential", AGENT,
                "legacy.internal:443", null, null, null, null, "legacy", "bob@example.com", 86_400L, null)).id();
        KeyPair kp = Csrs.newP256();
        var approver = tcp.admin().issueOperatorCredential(new OperatorCredentialRequest("carol", "admin",
                "carol@example.com", Csrs.csrPem(kp), 3600L));
        tcp.as(Pem.certificates(approver.chainPem()), kp.getPrivate()).approveException(exceptionId);
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    record Result(int code, String out, String err) {
    }

    Result ctl(InputStream stdin, String... args) {
        List<String> all = new ArrayList<>(List.of("ctl", "--credential-dir", creds));
        all.addAll(List.of(args));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Tollgate.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        InputStream before = System.in;
        System.setIn(stdin);
        try {
            int code = cl.execute(all.toArray(new String[0]));
            return new Result(code, out.toString(), err.toString());
        } finally {
            System.setIn(before);
        }
    }

    Result ctl(String... args) {
        return ctl(new ByteArrayInputStream(new byte[0]), args);
    }

    @Test
    void valueGoesInFromAFileOrStdinAndNeverComesOut() throws Exception {
        Path file = dir.resolve("value.txt");
        Files.writeString(file, VALUE + "\n");

        Result put = ctl("upstream-secret", "put", "legacy-key", "--workload", AGENT, "--upstream",
                "legacy.internal:443", "--exception", exceptionId, "--human-owner", "bob@example.com",
                "--service-owner", "team-billing", "--rotation-period", "90d", "--value-file", file.toString());
        assertThat(put.code()).as(put.err()).isZero();
        assertThat(put.out()).contains("legacy-key").contains("version 1");

        Result rotated = ctl(new ByteArrayInputStream(("rotated-" + VALUE).getBytes(StandardCharsets.US_ASCII)),
                "upstream-secret", "rotate", "legacy-key", "--value-stdin");
        assertThat(rotated.code()).as(rotated.err()).isZero();
        assertThat(rotated.out()).contains("version 2");

        Result list = ctl("upstream-secret", "list");
        Result json = ctl("--output", "json", "upstream-secret", "list");
        Result show = ctl("--output", "json", "upstream-secret", "show", "legacy-key");
        assertThat(list.out()).contains("legacy-key").contains("legacy.internal:443").contains("bob@example.com");
        assertThat(json.out()).contains("\"version\" : 2");
        assertThat(show.code()).as(show.err()).isZero();
        assertThat(show.out()).contains("legacy-key");
        for (Result r : List.of(put, rotated, list, json, show)) {
            assertThat(r.out() + r.err()).doesNotContain(VALUE);
        }
        // the sidecar of the bound workload gets the rotated value: what was read from stdin is what was stored
        var sidecar = tcp.as(tcp.join(dev.tollgate.api.SpiffeId.parse(AGENT), 600L));
        assertThat(sidecar.upstreamSecretValue("legacy-key").value()).isEqualTo("rotated-" + VALUE);

        Result deleted = ctl("upstream-secret", "delete", "legacy-key");
        assertThat(deleted.code()).isZero();
        assertThat(ctl("upstream-secret", "list").out()).doesNotContain("legacy-key");
        assertThat(ctl("upstream-secret", "list", "--deleted").out()).contains("deleted");
    }

    @Test
    void valueIsNeverTakenFromAnArgumentAndTheHelpSaysWhy() {
        Result asArgument = ctl("upstream-secret", "put", "legacy-key", "--workload", AGENT, "--upstream",
                "legacy.internal:443", "--exception", exceptionId, "--human-owner", "bob@example.com",
                "--service-owner", "team-billing", "--rotation-period", "90d", "--value", VALUE);
        Result neither = ctl("upstream-secret", "rotate", "legacy-key");
        Result help = ctl("upstream-secret", "put", "--help");

        assertThat(asArgument.code()).isNotZero();
        assertThat(asArgument.err()).contains("--value");
        assertThat(neither.code()).isNotZero();
        assertThat(neither.err()).contains("--value-file").contains("--value-stdin");
        assertThat(help.out()).contains("never from an argument");
        assertThat(ctl("upstream-secret", "list").out()).doesNotContain("legacy-key");
    }

    @Test
    void refusalNamesTheExceptionAndHints() {
        Path file = dir.resolve("value.txt");
        try {
            Files.writeString(file, VALUE);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Result r = ctl("upstream-secret", "put", "legacy-key", "--workload", AGENT, "--upstream",
                "other.internal:443", "--exception", exceptionId, "--human-owner", "bob@example.com", "--service-owner",
                "team-billing", "--rotation-period", "90d", "--value-file", file.toString());

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains(exceptionId).contains("exception_scope_mismatch").contains("hint:")
                .doesNotContain(VALUE);
    }
}
