package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.metrics.UpstreamErrorKind;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * A request the sidecar cannot serve in time because every upstream connection and stream is busy is an overload:
 * answered 503 with Retry-After and counted, never a 502 that blames the upstream (issue 14: "Whatever the load...").
 */
class OverloadAnswerTest {
    static final String AGENT = Mesh.id("agent/caller");
    static final String TOOL = Mesh.id("tool/billing");

    @TempDir
    Path dir;
    Mesh mesh;

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    @Test
    void answers503WithRetryAfterWhenNoUpstreamStreamFreesUpInTime() throws Exception {
        mesh = new Mesh(dir);
        TestApp app = mesh.track(new TestApp());
        // The tool side allows one stream per connection; the agent side may open one connection per event loop and
        // waits 300 ms for a free one: the second request on a loop finds everything busy.
        Sidecar tool = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(AGENT).limit("http2: {max-concurrent-streams: 1}"));
        String agentYaml = new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true)
                .spiffeUpstream("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), TOOL,
                        "billing.internal")
                .toString().replace("pool-size: 4", "pool-size: 1\n    connect-timeout: 300ms");
        Path file = dir.resolve("agent.yaml");
        Mesh.write(file, agentYaml);
        Sidecar agent = mesh.start(Sidecar.builder(ConfigLoader.load(file)));
        InetSocketAddress egress = agent.egressAddress().orElseThrow();

        // Four slow requests on four connections over two event loops: at least one loop gets two of them.
        List<CompletableFuture<String>> answers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            answers.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return Http.rawPlain(egress, "GET /slow HTTP/1.1\r\nHost: billing.internal\r\n"
                            + "Connection: close\r\n\r\n");
                } catch (Exception e) {
                    return "failed: " + e;
                }
            }));
        }
        await().atMost(Duration.ofSeconds(30))
                .until(() -> agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.OVERLOADED) >= 1);
        app.releaseSlow();

        List<String> heads = new ArrayList<>();
        for (CompletableFuture<String> a : answers) {
            heads.add(a.get(30, TimeUnit.SECONDS));
        }
        List<String> overloaded = heads.stream().filter(h -> h.startsWith("HTTP/1.1 503 ")).toList();
        assertThat(overloaded).isNotEmpty().allSatisfy(h -> assertThat(h)
                .containsIgnoringCase("\r\nretry-after: 1\r\n")
                .contains("\"error\":\"overloaded\"").containsAnyOf("pool_exhausted", "refused_stream"));
        assertThat(heads).noneMatch(h -> h.startsWith("HTTP/1.1 502 "))
                .allMatch(h -> h.startsWith("HTTP/1.1 503 ") || h.startsWith("HTTP/1.1 200 "));
        assertThat(agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.OVERLOADED))
                .isEqualTo(overloaded.size());
        assertThat(agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.UPSTREAM_ERROR)).isZero();
        assertThat(agent.metrics().upstreamErrorCount(UpstreamErrorKind.POOL_EXHAUSTED)
                + agent.metrics().upstreamErrorCount(UpstreamErrorKind.REFUSED_STREAM)).isEqualTo(overloaded.size());
    }
}
