package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;

class SidecarCommandTest {
    @TempDir
    Path dir;

    private int run(StringWriter out, StringWriter err, String... args) {
        CommandLine cl = new CommandLine(new SidecarCommand());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        return cl.execute(args);
    }

    @Test
    void printsEveryConfigurationErrorAndExitsWithTwo() throws Exception {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, """
                listeners: {egress: {address: "127.0.0.1:15001"}}
                tls: {cert: a, key: b, bundle: c}
                upstreams:
                  billing: {address: "b:1", spiffe-id: "spiffe://example.org/tool/billing", pool-size: 0}
                drain-timeout: 0s
                """);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        int code = run(out, err, "--config", file.toString());

        assertThat(code).isEqualTo(SidecarCommand.EXIT_CONFIG);
        assertThat(err.toString()).contains("invalid configuration (2 errors)")
                .contains("upstreams.billing.pool-size: 0 (expected: > 0)")
                .contains("drain-timeout: 0s (expected: > 0)");
    }

    @Test
    void checksAValidConfigurationWithoutStarting() throws Exception {
        Mesh mesh = new Mesh(dir);
        Path file = dir.resolve("ok.yaml");
        Files.writeString(file, new SidecarYaml().tls(mesh.svidFiles("t", "tool/billing"), mesh.bundle())
                .app("127.0.0.1:8080").allow(Mesh.id("agent/caller")).toString());
        StringWriter out = new StringWriter();

        assertThat(run(out, new StringWriter(), "--config", file.toString(), "--check")).isZero();
        assertThat(out.toString()).contains("configuration is valid");
    }

    @Test
    void documentsEveryOption() {
        CommandLine cl = new CommandLine(new SidecarCommand());
        assertThat(cl.getCommandSpec().options()).allSatisfy(o ->
                assertThat(String.join(" ", o.description())).as(o.longestName()).isNotBlank());
        assertThat(cl.getCommandName()).isEqualTo("sidecar");
    }

    @Test
    void trainingRunSendsItsRequestsThroughAPairOfSidecarsAndExitsZero() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        int code = run(out, err, "--training-run", "12");

        assertThat(code).as(err.toString()).isEqualTo(SidecarCommand.EXIT_OK);
        assertThat(out.toString())
                .contains("training run: 12 requests answered by the pass-through pair and 12 by the enforcing pair");
    }

    @Test
    void trainingRunTakesNoConfigurationAndABoundedCount() throws Exception {
        Path file = dir.resolve("any.yaml");
        Files.writeString(file, "listeners: {}\n");

        assertThat(run(new StringWriter(), new StringWriter(), "--training-run", "--config", file.toString()))
                .isEqualTo(SidecarCommand.EXIT_CONFIG);
        assertThat(run(new StringWriter(), new StringWriter(), "--training-run", "0"))
                .isEqualTo(SidecarCommand.EXIT_CONFIG);
        StringWriter err = new StringWriter();
        assertThat(run(new StringWriter(), err)).isEqualTo(SidecarCommand.EXIT_CONFIG);
        assertThat(err.toString()).contains("Missing required option: '--config=<file>'");
    }

    @Test
    void theLaunchersInvocationRunsWithoutLoadingPicocliAndEverythingElseGoesThroughIt() throws Exception {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, "listeners: {egress: {address: \"127.0.0.1:15001\"}}\ndrain-timeout: 0s\n");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path loaded = dir.resolve("classes.log");
        Process p = new ProcessBuilder(java, "-Xlog:class+load=info:file=" + loaded, "-cp",
                System.getProperty("java.class.path"), "dev.tollgate.proxy.SidecarMain", "--config=" + file)
                .redirectErrorStream(true).redirectOutput(dir.resolve("direct.log").toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String log = Files.readString(dir.resolve("direct.log"));
        assertThat(p.exitValue()).as(log).isEqualTo(SidecarCommand.EXIT_CONFIG);
        assertThat(log).contains("drain-timeout: 0s (expected: > 0)");
        assertThat(Files.readAllLines(loaded)).as("classes loaded").noneMatch(l -> l.contains(" picocli."))
                .anyMatch(l -> l.contains(" dev.tollgate.proxy.config.ConfigLoader "));

        Process help = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "dev.tollgate.proxy.SidecarMain", "--help").redirectErrorStream(true).start();
        String usage = new String(help.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(help.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(help.exitValue()).isZero();
        assertThat(usage).startsWith("Usage: tollgate sidecar").contains("--training-run");
    }

    @Test
    void onlyExactlyConfigAndAPlainPathSkipsTheParser() {
        assertThat(SidecarMain.directConfig(new String[] {"--config", "a.yaml"})).isEqualTo(Path.of("a.yaml"));
        assertThat(SidecarMain.directConfig(new String[] {"--config=/etc/t/s.yaml"})).isEqualTo(Path.of("/etc/t/s.yaml"));
        for (String[] other : new String[][] {{}, {"--config"}, {"--config="}, {"--config", "--check"},
                {"--config", "@args"}, {"--config=@args"}, {"--config", "a.yaml", "--check"}, {"--check", "--config", "a"},
                {"-h"}, {"--training-run"}, {"--config", "a\0b"}, {"--CONFIG", "a.yaml"}}) {
            assertThat(SidecarMain.directConfig(other)).as(String.join(" ", other)).isNull();
        }
    }

    @Test
    void drainsAndExitsZeroOnSigterm() throws Exception {
        Mesh mesh = new Mesh(dir);
        Path file = dir.resolve("run.yaml");
        Files.writeString(file, new SidecarYaml().tls(mesh.svidFiles("t", "tool/billing"), mesh.bundle())
                .ingress(false).toString().replace("admin: {address: \"127.0.0.1:0\"}",
                        "admin: {address: \"127.0.0.1:" + freePort() + "\"}"));
        int admin = Integer.parseInt(Files.readString(file).replaceAll("(?s).*admin: \\{address: \"127.0.0.1:(\\d+)\".*",
                "$1"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "dev.tollgate.proxy.SidecarMain", "--config", file.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("sidecar.log").toFile()).start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> http.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/readyz")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode() == 200);

            p.destroy(); // SIGTERM

            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(Files.readString(dir.resolve("sidecar.log"))).isZero();
            assertThat(Files.readString(dir.resolve("sidecar.log"))).contains("drained");
        } finally {
            p.destroyForcibly();
        }
    }

    private static int freePort() throws Exception {
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

}
