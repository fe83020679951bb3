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
        StringWriter out = new StringWriter();

        int code = new CommandLine(new SidecarCommand()).setOut(new PrintWriter(out))
                .setErr(new PrintWriter(new StringWriter())).execute("--config", file.toString(), "--check");

        assertThat(code).isZero();
        assertThat(out.toString()).contains("configuration is valid")
                .contains("SVID from the control plane at https://cp.example:8443 (join token: "
                        + dir.resolve("token") + ")");
    }
}
