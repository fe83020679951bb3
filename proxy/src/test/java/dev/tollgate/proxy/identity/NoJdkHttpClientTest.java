package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.controlplane.CallOutcome;
import dev.tollgate.proxy.controlplane.ControlPlaneRoute;
import dev.tollgate.proxy.support.TestApp;

/**
 * A running sidecar reaches the control plane only over its Netty transport: joining, the watch stream and renewal
 * create no {@code java.net.http.HttpClient}, and no sidecar class refers to the JDK client or the CLI's
 * {@code ControlPlaneClient}.
 */
class NoJdkHttpClientTest {
    /** The JDK names each client's selector thread after the client's id, drawn from one counter per JVM. */
    private static final Pattern SELECTOR = Pattern.compile("HttpClient-(\\d+)-SelectorManager");

    @TempDir
    Path dir;

    @Test
    void aJoinedSidecarRenewsAndFollowsTheWatchWithoutAJdkHttpClient() throws Exception {
        try (IdentityMesh mesh = new IdentityMesh(dir, Map.of())) {
            TestApp app = new TestApp();
            mesh.track(app);
            // the test's own fixture calls (join token) use the CLI's JDK client: all of them before the window
            String cp = mesh.controlPlane(mesh.token(IdentityMesh.TOOL), "backoff-initial: 100ms",
                    "backoff-max: 300ms", "request-timeout: 5s");
            long before = nextJdkClientId();

            Sidecar tool = mesh.tool(app, cp, Clock.systemUTC());
            ControlPlaneCertificateSource source = IdentityMesh.source(tool);
            await().atMost(Duration.ofSeconds(20)).until(() -> tool.ready()
                    && source.metrics().state() == ControlPlaneState.CONNECTED);
            String first = tool.tls().current().orElseThrow().snapshot().leaf().getSerialNumber().toString(16);
            source.renewNow().get(20, TimeUnit.SECONDS);
            String renewed = tool.tls().current().orElseThrow().snapshot().leaf().getSerialNumber().toString(16);

            long after = nextJdkClientId();

            assertThat(renewed).isNotEqualTo(first);
            assertThat(after).as("no JDK HttpClient was created between the two probes").isEqualTo(before + 1);
            assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("tollgate-identity-call")
                    || t.getName().startsWith("tollgate-token-exchange"));
            var m = tool.metrics();
            assertThat(m.controlPlaneCallCount(ControlPlaneRoute.JOIN, CallOutcome.OK)).isEqualTo(1.0);
            assertThat(m.controlPlaneCallCount(ControlPlaneRoute.RENEW, CallOutcome.OK)).isGreaterThanOrEqualTo(1.0);
            assertThat(m.controlPlaneCallCount(ControlPlaneRoute.WATCH, CallOutcome.OK)).isGreaterThanOrEqualTo(1.0);
        }
    }

    @Test
    void noSidecarClassRefersToTheJdkHttpClientOrTheCliClient() throws IOException {
        Path classes = Path.of(Sidecar.class.getProtectionDomain().getCodeSource().getLocation().getPath());
        List<String> offenders;
        try (Stream<Path> files = Files.walk(classes)) {
            offenders = files.filter(p -> p.toString().endsWith(".class")).filter(p -> {
                try {
                    String pool = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
                    return pool.contains("java/net/http/") || pool.contains("dev/tollgate/api/client/ControlPlaneClient");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).map(p -> classes.relativize(p).toString()).toList();
        }
        assertThat(offenders).isEmpty();
    }

    /** Creates a JDK client and returns its id: one more than the last client's, whoever made it. */
    private static long nextJdkClientId() {
        HttpClient probe = HttpClient.newHttpClient();
        Matcher m = Pattern.compile("\\((\\d+)\\)$").matcher(probe.toString());
        if (m.find()) {
            return Long.parseLong(m.group(1));
        }
        // Fallback: the newest selector thread is the probe's.
        return Thread.getAllStackTraces().keySet().stream().map(t -> SELECTOR.matcher(t.getName()))
                .filter(Matcher::matches).mapToLong(x -> Long.parseLong(x.group(1))).max().orElseThrow();
    }
}
