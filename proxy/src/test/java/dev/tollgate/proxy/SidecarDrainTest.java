package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/** Graceful drain, driven in-process as SIGTERM would. */
class SidecarDrainTest {
    @TempDir
    Path dir;
    Mesh mesh;
    TestApp app;
    Sidecar sidecar;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        app = mesh.track(new TestApp());
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(Mesh.id("agent/caller")).drainTimeout("15s"));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private HttpResponse<String> readyz() throws Exception {
        return Http.get(Http.client(null, HttpClient.Version.HTTP_1_1),
                Http.http(sidecar.adminAddress().orElseThrow(), "/readyz"));
    }

    @Test
    void drainUnderLoadLosesNoInFlightRequest() throws Exception {
        HttpClient h1 = Http.client(mesh.clientContext(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);
        List<CompletableFuture<HttpResponse<String>>> inFlight = new ArrayList<>();
        String url = Http.https(sidecar.ingressAddress().orElseThrow(), "/slow");
        for (int i = 0; i < 4; i++) {
            inFlight.add(h1.sendAsync(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        // HTTP/2: three streams on one connection. curl, because the JDK 17 client fails every stream on GOAWAY.
        Path[] caller = mesh.svidFiles("caller", "agent/caller");
        Process curl = new ProcessBuilder("curl", "-sk", "--no-progress-meter", "--http2", "--parallel", "--parallel-immediate",
                "--cert", caller[0].toString(), "--key", caller[1].toString(), "-w", "%{http_version} %{http_code}\\n",
                url, url, url).redirectErrorStream(true).start();
        await().until(() -> app.slowWaiting() == 7);
        assertThat(readyz().statusCode()).isEqualTo(200);

        CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> {
            try {
                return sidecar.drain();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });

        await().until(() -> !sidecar.ready());
        HttpResponse<String> notReady = readyz();
        assertThat(notReady.statusCode()).isEqualTo(503);
        assertThat(notReady.body()).contains("draining");
        await().untilAsserted(() -> assertThatThrownBy(() -> new java.net.Socket("127.0.0.1",
                sidecar.ingressAddress().orElseThrow().getPort()).close()).isInstanceOf(ConnectException.class));
        assertThat(drained).isNotDone();

        app.releaseSlow();

        assertThat(drained.get(15, TimeUnit.SECONDS)).isTrue();
        for (CompletableFuture<HttpResponse<String>> f : inFlight) {
            HttpResponse<String> r = f.get(5, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("slow done\n");
            if (r.version() == HttpClient.Version.HTTP_1_1) {
                assertThat(r.headers().firstValue("connection")).hasValue("close");
            }
        }
        assertThat(curl.waitFor(10, TimeUnit.SECONDS)).isTrue();
        String curlOut = new String(curl.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(curlOut.split("slow done", -1)).hasSize(4);
        assertThat(curlOut.split("2 200", -1)).hasSize(4);
        assertThat(sidecar.metrics().requestCount(Direction.INGRESS, RequestOutcome.OK)).isEqualTo(7);
        assertThat(sidecar.connections().inFlight()).isZero();
    }

    @Test
    void drainReturnsFalseWhenRequestsOutliveTheTimeout() throws Exception {
        Sidecar quick = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool2", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(Mesh.id("agent/caller")).drainTimeout("200ms"));
        HttpClient h1 = Http.client(mesh.clientContext(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);
        CompletableFuture<HttpResponse<String>> stuck = h1.sendAsync(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(Http.https(quick.ingressAddress().orElseThrow(), "/slow"))).build(),
                HttpResponse.BodyHandlers.ofString());
        await().until(() -> app.slowWaiting() == 1);

        assertThat(quick.drain()).isFalse();

        // a request that outlives the drain timeout is cut off when the sidecar closes, even if its answer comes later
        quick.close();
        app.releaseSlow();
        assertThat(stuck).failsWithin(java.time.Duration.ofSeconds(5));
    }
}
