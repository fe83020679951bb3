package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The JIT figures the peer comparison reads from {@code jstat -compiler}. */
class JitStatsTest {
    @Test
    void readsMethodsCompiledAndSecondsFromJstatsColumns() {
        String out = "Compiled Failed Invalid   Time   FailedType FailedMethod\n"
                + "    5342      0       0    29.86          0             \n";
        assertThat(JitStats.parse(out)).contains(new JitStats(5342, 29.86));
    }

    @Test
    void answersNothingForOutputWithoutThoseColumns() {
        assertThat(JitStats.parse("")).isEmpty();
        assertThat(JitStats.parse("12345 not found")).isEmpty();
        assertThat(JitStats.parse("Compiled Failed\n  12  0\n")).isEmpty();
        assertThat(JitStats.parse("Compiled Time\n  x  1.0\n")).isEmpty();
    }

    @Test
    void readsARunningJvm() throws Exception {
        // this test's own JVM has compiled methods by now
        JitStats j = JitStats.of(ProcessHandle.current().pid()).orElseThrow();
        assertThat(j.compiled()).isPositive();
        assertThat(j.seconds()).isPositive();
    }
}
