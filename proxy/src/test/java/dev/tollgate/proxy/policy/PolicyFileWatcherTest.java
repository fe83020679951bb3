package dev.tollgate.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.policy.Policy;
import dev.tollgate.controlplane.TestPolicies;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.config.SidecarConfig.PolicyOrigin;
import dev.tollgate.proxy.metrics.PolicyReloadResult;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The policy file: loaded at start, a valid change picked up once the file has settled, an invalid one keeps the
 * previous policy and is counted once, a half-written file is never read. Polls are driven by the test (the
 * scheduled interval is an hour), and each write moves the modification time on so that every change is visible.
 */
class PolicyFileWatcherTest {
    @TempDir
    Path dir;

    Path file;
    SimpleMeterRegistry registry;
    ProxyMetrics metrics;
    PolicySource source;
    PolicyFileWatcher watcher;
    final List<Policy> seen = new CopyOnWriteArrayList<>();
    Instant mtime = Instant.parse("2030-01-01T00:00:00Z");

    @BeforeEach
    void setUp() {
        file = dir.resolve("policy.yaml");
        registry = new SimpleMeterRegistry();
        metrics = new ProxyMetrics(registry, Clock.systemUTC());
        source = new PolicySource(new SidecarConfig.PolicySettings(PolicyOrigin.FILE, Optional.of(file), true,
                Duration.ofHours(1)), metrics);
        source.addListener(seen::add);
        watcher = new PolicyFileWatcher(file, Duration.ofHours(1), source);
    }

    @AfterEach
    void tearDown() {
        watcher.close();
    }

    @Test
    void loadsTheFileAtStartAndPublishesItsVersion() throws Exception {
        write(TestPolicies.v1());
        assertThat(source.unavailable()).isTrue();
        watcher.start();
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.1");
        assertThat(source.unavailable()).isFalse();
        assertThat(seen).extracting(Policy::version).containsExactly("2026-11-22.1");
        assertThat(count(PolicyReloadResult.APPLIED)).isEqualTo(1);
        assertThat(registry.get(ProxyMetrics.POLICY_INFO).tag("version", "2026-11-22.1")
                .tag("digest", Policy.parse(TestPolicies.v1()).digest()).gauge().value()).isEqualTo(1);
        assertThat(registry.get(ProxyMetrics.POLICY_LOADED).gauge().value()).isEqualTo(1);
    }

    @Test
    void picksUpAValidChangeOnceTheFileHasSettled() throws Exception {
        write(TestPolicies.v1());
        watcher.start();
        write(TestPolicies.v2());
        assertThat(watcher.poll()).as("changed since the last poll: not read yet").isEmpty();
        assertThat(watcher.poll()).contains(PolicyReloadResult.APPLIED);
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.2");
        assertThat(seen).extracting(Policy::version).containsExactly("2026-11-22.1", "2026-11-22.2");
        assertThat(registry.find(ProxyMetrics.POLICY_INFO).gauges()).as("one info series: the policy in use")
                .singleElement().satisfies(g -> assertThat(g.getId().getTag("version")).isEqualTo("2026-11-22.2"));
        assertThat(watcher.poll()).as("nothing changed").isEmpty();
    }

    @Test
    void keepsThePreviousPolicyWhenTheNewFileIsInvalidAndCountsTheErrorOnce() throws Exception {
        write(TestPolicies.v1());
        watcher.start();
        write(TestPolicies.invalid());
        watcher.poll();
        assertThat(watcher.poll()).contains(PolicyReloadResult.INVALID);
        for (int i = 0; i < PolicyFileWatcher.FULL_READ_EVERY + 1; i++) {
            watcher.poll();
        }
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.1");
        assertThat(count(PolicyReloadResult.INVALID)).as("the same bad contents are counted once").isEqualTo(1);
        assertThat(seen).hasSize(1);

        write(TestPolicies.v2());
        watcher.poll();
        assertThat(watcher.poll()).as("fixed: applied at once").contains(PolicyReloadResult.APPLIED);
    }

    @Test
    void ignoresAHalfWrittenFileThatIsCompletedBeforeItSettles() throws Exception {
        write(TestPolicies.v1());
        watcher.start();
        String v2 = TestPolicies.v2();
        write(v2.substring(0, v2.length() / 2));
        assertThat(watcher.poll()).isEmpty();
        write(v2);
        assertThat(watcher.poll()).as("still changing").isEmpty();
        assertThat(watcher.poll()).contains(PolicyReloadResult.APPLIED);
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.2");
        for (PolicyReloadResult r : PolicyReloadResult.values()) {
            if (r.error()) {
                assertThat(count(r)).as("errors of result %s", r).isZero();
            }
        }
    }

    @Test
    void aMissingOrOversizedFileKeepsThePolicyAndCounts() throws Exception {
        write(TestPolicies.v1());
        watcher.start();
        Files.delete(file);
        watcher.poll();
        assertThat(watcher.poll()).contains(PolicyReloadResult.READ_ERROR);
        write(TestPolicies.v2() + "#" + "x".repeat(PolicySource.MAX_DOCUMENT_BYTES) + "\n");
        watcher.poll();
        assertThat(watcher.poll()).contains(PolicyReloadResult.TOO_LARGE);
        Files.write(file, new byte[] {'v', (byte) 0xff, '\n'});
        Files.setLastModifiedTime(file, FileTime.from(mtime = mtime.plusSeconds(1)));
        watcher.poll();
        assertThat(watcher.poll()).contains(PolicyReloadResult.READ_ERROR);
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.1");
        assertThat(count(PolicyReloadResult.READ_ERROR)).isEqualTo(2);
        assertThat(count(PolicyReloadResult.TOO_LARGE)).isEqualTo(1);
    }

    @Test
    void aMissingFileAtStartLeavesThePolicyUnavailableUntilItAppears() throws Exception {
        watcher.start();
        assertThat(source.current()).isEmpty();
        assertThat(source.unavailable()).isTrue();
        write(TestPolicies.v1());
        watcher.poll();
        assertThat(watcher.poll()).contains(PolicyReloadResult.APPLIED);
        assertThat(source.unavailable()).isFalse();
    }

    private void write(String text) throws Exception {
        Files.writeString(file, text);
        mtime = mtime.plusSeconds(1);
        Files.setLastModifiedTime(file, FileTime.from(mtime));
    }

    private double count(PolicyReloadResult r) {
        return metrics.policyReloadCount(PolicyOrigin.FILE, r);
    }
}
