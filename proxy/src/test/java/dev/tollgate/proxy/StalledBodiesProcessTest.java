package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;
import dev.tollgate.testing.TestPki;

/**
 * The outside finding, scaled to a loaded 2-core test machine: a real sidecar process with a small heap and a small
 * direct-memory limit; a few hundred mTLS connections each send an inspected {@code POST} declaring 65,000 bytes, send
 * 63,000 of them and go silent. The sidecar refuses what its body budget cannot hold (503), times out the bodies it
 * holds (408), keeps answering {@code /healthz} meanwhile, serves a legitimate call once the flood is over, keeps
 * reloading its certificate, and exits on SIGTERM within the drain timeout.
 */
class StalledBodiesProcessTest {
    static final String CALLER = "spiffe://example.org/agent/caller";
    static final int CONNECTIONS = 240;
    static final int DECLARED = 65_000;
    static final int SENT = 63_000;
    static final Duration DRAIN = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void survivesAFloodOfStalledBodiesAndStaysServiceable() throws Exception {
        Mesh mesh = new Mesh(dir);
        try (TestApp app = new TestApp()) {
            Path[] svid = mesh.svidFiles("tool", "tool/billing");
            int admin = freePort();
            int ingress = freePort();
            String yaml = new SidecarYaml().tls(svid, mesh.bundle()).app(app.address()).allow(CALLER)
                    .reloadInterval("1s").drainTimeout(DRAIN.toSeconds() + "s")
                    .limit("buffered-bodies: {max-total: 2MiB, max-per-identity: 2MiB, read-timeout: 3s}")
                    .toString()
                    .replace("admin: {address: \"127.0.0.1:0\"}", "admin: {address: \"127.0.0.1:" + admin + "\"}")
                    .replace("ingress: {address: \"127.0.0.1:0\"}", "ingress: {address: \"127.0.0.1:" + ingress
                            + "\"}")
                    + "ingress:\n  inspection: mcp\ninspection:\n  max-body: 64KiB\n";
            Path config = dir.resolve("sidecar.yaml");
            Files.writeString(config, yaml);
            Path log = dir.resolve("sidecar.log");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process p = new ProcessBuilder(java, "-Xmx96m", "-XX:MaxDirectMemorySize=24m", "-cp",
                    System.getProperty("java.class.path"), "dev.tollgate.proxy.SidecarMain", "--config",
                    config.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
            SSLContext caller = mesh.clientContext(mesh.pki.svid("agent/caller"));
            try {
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                        .until(() -> status(http, admin, "/readyz") == 200);

                List<SSLSocket> held = Collections.synchronizedList(new ArrayList<>());
                ExecutorService pool = Executors.newFixedThreadPool(8);
                List<Future<String>> first = new ArrayList<>();
                for (int i = 0; i < CONNECTIONS; i++) {
                    first.add(pool.submit(() -> {
                        SSLSocket s = stall(caller, ingress, DECLARED, SENT);
                        held.add(s);
                        return "sent";
                    }));
                }
                int opened = 0;
                for (Future<String> f : first) {
                    try {
                        f.get(120, TimeUnit.SECONDS);
                        opened++;
                    } catch (java.util.concurrent.ExecutionException e) {
                        // A connection the sidecar already answered and closed while we were still writing.
                    }
                }
                pool.shutdown();
                assertThat(opened).isPositive();

                // While the flood holds its connections: the admin port answers at once.
                assertThat(healthz(http, admin)).isEqualTo(200);

                // The budget refused what it could not hold (503), the read deadline ended what it held (408).
                List<String> answers = new ArrayList<>();
                for (SSLSocket s : held) {
                    String a = statusLine(s);
                    answers.add(a);
                    if (a.contains("timed out")) {
                        break; // the sidecar answers nobody: no need to wait for every connection
                    }
                }
                assertThat(answers).anyMatch(a -> a.startsWith("HTTP/1.1 503"))
                        .anyMatch(a -> a.startsWith("HTTP/1.1 408"))
                        .allMatch(a -> a.startsWith("HTTP/1.1 503") || a.startsWith("HTTP/1.1 408")
                                || a.startsWith("closed"));
                for (SSLSocket s : held) {
                    s.close();
                }
                String metrics1 = metrics(http, admin);
                assertThat(metric(metrics1, "tollgate_proxy_limit_hits_total\\{kind=\"body_budget_total\"}"))
                        .isPositive();
                assertThat(metric(metrics1, "tollgate_proxy_limit_hits_total\\{kind=\"body_read_timeout\"}"))
                        .isPositive();
                await().atMost(Duration.ofSeconds(30)).until(() -> metric(metrics(http, admin),
                        "tollgate_proxy_connections_active\\{listener=\"ingress\"}") == 0
                        && metric(metrics(http, admin), "tollgate_proxy_body_budget_bytes") == 0);

                // After the flood: /healthz within a second, a legitimate call served.
                assertThat(healthz(http, admin)).isEqualTo(200);
                String ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
                try (SSLSocket s = stall(caller, ingress, ping.length(), 0)) {
                    s.getOutputStream().write(ping.getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    assertThat(statusLine(s)).startsWith("HTTP/1.1 200");
                }

                // The background task that keeps the certificate current still runs.
                double applied = metric(metrics(http, admin),
                        "tollgate_proxy_certificate_reloads_total\\{result=\"applied\"}");
                TestPki.Issued next = mesh.pki.svid("tool/billing");
                Files.writeString(svid[1], next.keyPem());
                Files.writeString(svid[0], next.certPem());
                await().atMost(Duration.ofSeconds(30)).until(() -> metric(metrics(http, admin),
                        "tollgate_proxy_certificate_reloads_total\\{result=\"applied\"}") > applied);
                assertThat(metric(metrics(http, admin),
                        "tollgate_proxy_background_failures_total\\{task=\"certificate_files\"}")).isZero();

                // SIGTERM with stalled bodies in flight again: the process exits within the drain timeout.
                List<SSLSocket> again = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    again.add(stall(caller, ingress, DECLARED, 1_000));
                }
                long t0 = System.nanoTime();
                p.destroy();
                assertThat(p.waitFor(DRAIN.toSeconds() + 10, TimeUnit.SECONDS))
                        .as(Files.readString(log)).isTrue();
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(DRAIN.plusSeconds(10));
                assertThat(p.exitValue()).as(Files.readString(log)).isZero();
                for (SSLSocket s : again) {
                    s.close();
                }
                assertThat(Files.readString(log)).doesNotContain("OutOfMemoryError");
            } finally {
                p.destroyForcibly();
                mesh.close();
            }
        }
    }

    private static SSLSocket stall(SSLContext ctx, int port, int declared, int sent) throws IOException {
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port);
        s.setSoTimeout(15_000);
        s.startHandshake();
        s.getOutputStream().write(("POST /echo HTTP/1.1\r\nHost: tool\r\nConnection: close\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + declared + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        byte[] chunk = new byte[7_000];
        java.util.Arrays.fill(chunk, (byte) ' ');
        for (int left = sent; left > 0; left -= chunk.length) {
            s.getOutputStream().write(chunk, 0, Math.min(left, chunk.length));
        }
        s.getOutputStream().flush();
        return s;
    }

    /** The first line the sidecar answered on {@code s}, or "closed" when it closed without an answer. */
    private static String statusLine(SSLSocket s) {
        try {
            InputStream in = s.getInputStream();
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0 && c != '\r') {
                b.append((char) c);
            }
            return b.isEmpty() ? "closed" : b.toString();
        } catch (IOException e) {
            return "closed: " + e.getMessage();
        }
    }

    private static int healthz(HttpClient http, int admin) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/healthz"))
                .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private static int status(HttpClient http, int admin, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private static String metrics(HttpClient http, int admin) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/metrics"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static double metric(String text, String nameAndTags) {
        Matcher m = Pattern.compile("(?m)^" + nameAndTags + " ([0-9.eE+-]+)$").matcher(text);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    private static int freePort() throws Exception {
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
