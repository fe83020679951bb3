package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.SidecarCommand;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.tls.CertificateSource;
import dev.tollgate.testing.TestPki;

/**
 * A sidecar that cannot get an SVID (its join token is spent, or there is none) does not wait "not ready" forever: after
 * {@code control-plane.join-timeout} it gives up with a message naming where it reads the join token and what to do,
 * and {@code sidecar} exits 3 so that an orchestrator restarts it. Zero waits forever.
 */
class JoinTimeoutTest {
    static final SpiffeId SERVER = SpiffeId.parse("spiffe://example.org/tollgate/control-plane");

    @TempDir
    Path dir;
    FakeControlPlane cp;
    ControlPlaneCertificateSource source;

    @AfterEach
    void stop() {
        if (source != null) {
            source.close();
        }
        if (cp != null) {
            cp.close();
        }
    }

    private SidecarConfig.ControlPlane config(Optional<Path> tokenFile, Duration joinTimeout) throws Exception {
        cp = new FakeControlPlane(TestPki.create("example.org"));
        return new SidecarConfig.ControlPlane(cp.url(), SERVER, cp.writeAnchor(dir), tokenFile, 0.5,
                Duration.ofSeconds(1), Duration.ofHours(1), true, Duration.ofSeconds(5), Duration.ofMillis(100),
                Duration.ofSeconds(1), Duration.ofSeconds(5), null, joinTimeout);
    }

    private static final CertificateSource.Listener NONE = snapshot -> { };

    @Test
    void aSpentJoinTokenInAFileGivesUpAfterTheJoinTimeoutNamingTheFile() throws Exception {
        Path token = dir.resolve("join-token");
        Files.writeString(token, "spent-token");
        SidecarConfig.ControlPlane cfg = config(Optional.of(token), Duration.ofMinutes(2));
        cp.answer(r -> new FakeControlPlane.Answer(401, "{\"type\":\"about:blank\",\"title\":\"join token already "
                + "used\",\"status\":401,\"reason\":\"join_token_used\"}"));
        MutableClock clock = new MutableClock(Instant.now());
        source = ControlPlaneCertificateSource.builder(cfg).clock(clock).build();
        source.start(NONE);
        CompletableFuture<String> gaveUp = source.joinTimedOut().toCompletableFuture();
        assertThat(cp.count("/v1/svid/join")).isEqualTo(1);

        clock.advance(Duration.ofSeconds(119));
        await().atMost(Duration.ofSeconds(10)).until(() -> source.metrics().renewalCount(RenewalResult.NO_JOIN_TOKEN) >= 1);
        assertThat(gaveUp).as("still inside the join timeout").isNotDone();

        clock.advance(Duration.ofSeconds(2));
        String message = gaveUp.get(10, TimeUnit.SECONDS);
        assertThat(message).contains("control-plane.join-timeout").contains("120s")
                .contains("only the join token already used in control-plane.join-token-file " + token
                        + ": the control plane refused it (HTTP 401")
                .contains("Write a new one-time join token").contains(token.toString()).contains("no restart needed");
        assertThat(cp.count("/v1/svid/join")).as("a spent token is never sent again").isEqualTo(1);
    }

    @Test
    void noJoinTokenInTheEnvironmentAdvisesARestartOrATokenFile() throws Exception {
        SidecarConfig.ControlPlane cfg = config(Optional.empty(), Duration.ofMinutes(1));
        MutableClock clock = new MutableClock(Instant.now());
        source = ControlPlaneCertificateSource.builder(cfg).clock(clock).environment(k -> null).build();
        source.start(NONE);

        clock.advance(Duration.ofMinutes(1));
        String message = source.joinTimedOut().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(message).contains("no join token in $TOLLGATE_JOIN_TOKEN")
                .contains("read once, at start: restart the sidecar").contains("control-plane.join-token-file");
        assertThat(cp.count("/v1/svid/join")).isZero();
    }

    @Test
    void aZeroJoinTimeoutWaitsForever() throws Exception {
        SidecarConfig.ControlPlane cfg = config(Optional.of(dir.resolve("absent")), Duration.ZERO);
        MutableClock clock = new MutableClock(Instant.now());
        source = ControlPlaneCertificateSource.builder(cfg).clock(clock).build();
        source.start(NONE);

        clock.advance(Duration.ofDays(30));
        double before = source.metrics().renewalCount(RenewalResult.NO_JOIN_TOKEN);
        await().atMost(Duration.ofSeconds(10)).until(() -> source.metrics().renewalCount(RenewalResult.NO_JOIN_TOKEN)
                > before);
        assertThat(source.joinTimedOut().toCompletableFuture()).isNotDone();
    }

    @Test
    void theSidecarCommandExitsThreeAfterTheJoinTimeoutNamingTheTokenSource() throws Exception {
        cp = new FakeControlPlane(TestPki.create("example.org"));
        Path anchor = cp.writeAnchor(dir);
        Path token = dir.resolve("never-written");
        Path file = dir.resolve("sidecar.yaml");
        Files.writeString(file, new SidecarYaml().controlPlane("  url: \"" + cp.url() + "\"\n  server-id: \"" + SERVER
                        + "\"\n  trust-anchor: \"" + anchor + "\"\n  join-token-file: \"" + token + "\"\n"
                        + "  backoff-initial: 100ms\n  backoff-max: 200ms\n  join-timeout: 1s\n")
                .app("127.0.0.1:8080").allow("spiffe://example.org/agent/caller").toString());
        StringWriter err = new StringWriter();

        CompletableFuture<Integer> code = CompletableFuture.supplyAsync(() -> new CommandLine(new SidecarCommand())
                .setOut(new PrintWriter(new StringWriter())).setErr(new PrintWriter(err))
                .execute("--config", file.toString()));

        assertThat(code.get(60, TimeUnit.SECONDS)).isEqualTo(SidecarCommand.EXIT_NO_SVID);
        assertThat(err.toString()).contains("no valid SVID for 1s (control-plane.join-timeout)")
                .contains("no join token in control-plane.join-token-file " + token);
    }
}
