package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import dev.tollgate.proxy.SidecarCommand;
import dev.tollgate.proxy.support.SidecarYaml;

class SidecarCommandControlPlaneTest {
    @TempDir
    Path dir;

    @Test
    void checkSaysTheSvidComesFromTheControlPlaneAndWhereTheJoinTokenIsRead() throws Exception {
        Path file = dir.resolve("cp.yaml");
        Files.writeString(file, new SidecarYaml().controlPlane("  url: \"https://cp.example:8443\"\n"
                        + "  server-id: \"spiffe://example.org/tollgate/control-plane\"\n"
                        + "  trust-anchor: anchor.pem\n  join-token-file: token\n")
                .app("127.0.0.1:8080").allow("spiffe://example.org/agent/caller").toString());
        Files.writeString(dir.resolve("anchor.pem"), "-----BEGIN CERTIFICATE-----\n");
        StringWriter out = new StringWriter();

        int code = new CommandLine(new SidecarCommand()).setOut(new PrintWriter(out))
                .setErr(new PrintWriter(new StringWriter())).execute("--config", file.toString(), "--check");

        assertThat(code).isZero();
        assertThat(out.toString()).contains("configuration is valid")
                .contains("SVID from the control plane at https://cp.example:8443 (join token: "
                        + dir.resolve("token") + ")")
                .contains("note: control-plane.join-token-file: " + dir.resolve("token") + " (no such file; the "
                        + "sidecar waits for a join token there");
    }

    @Test
    void checkFailsOnAMissingTrustAnchorNamingTheOptionAndThePath() throws Exception {
        Path file = dir.resolve("cp.yaml");
        Files.writeString(file, new SidecarYaml().controlPlane("  url: \"https://cp.example:8443\"\n"
                        + "  server-id: \"spiffe://example.org/tollgate/control-plane\"\n"
                        + "  trust-anchor: anchor.pem\n  join-token-file: token\n")
                .app("127.0.0.1:8080").allow("spiffe://example.org/agent/caller")
                .policy("  file: policy.yaml\n").toString());
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        int code = new CommandLine(new SidecarCommand()).setOut(new PrintWriter(out))
                .setErr(new PrintWriter(err)).execute("--config", file.toString(), "--check");

        assertThat(code).isEqualTo(SidecarCommand.EXIT_CONFIG);
        assertThat(out.toString()).doesNotContain("configuration is valid");
        assertThat(err.toString()).contains("2 files named in the configuration cannot be read")
                .contains("control-plane.trust-anchor: " + dir.resolve("anchor.pem") + " (no such file)")
                .contains("policy.file: " + dir.resolve("policy.yaml") + " (no such file)");
    }

    @Test
    void checkListsEveryMissingCertificateFile() throws Exception {
        Path file = dir.resolve("files.yaml");
        Files.writeString(dir.resolve("present.crt"), "x");
        Files.createDirectory(dir.resolve("a-directory"));
        Files.writeString(file, new SidecarYaml().tls(new Path[] {dir.resolve("present.crt"),
                        dir.resolve("missing.key")}, dir.resolve("a-directory"))
                .app("127.0.0.1:8080").allow("spiffe://example.org/agent/caller").toString());
        StringWriter err = new StringWriter();

        int code = new CommandLine(new SidecarCommand()).setOut(new PrintWriter(new StringWriter()))
                .setErr(new PrintWriter(err)).execute("--config", file.toString(), "--check");

        assertThat(code).isEqualTo(SidecarCommand.EXIT_CONFIG);
        assertThat(err.toString()).contains("tls.key: " + dir.resolve("missing.key") + " (no such file)")
                .contains("tls.bundle: " + dir.resolve("a-directory") + " (not a regular file)")
                .doesNotContain("tls.cert");
    }
}
