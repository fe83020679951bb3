package dev.tollgate.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

import dev.tollgate.cli.Tollgate;

/** {@code ./tollgate demo --once}, in-process: every step's outcome, the exit code and the clean-up. */
class DemoTest {

    @Test
    void walkThroughShowsEveryStepAsExpectedAndRemovesEverything() {
        CommandLine cl = Tollgate.commandLine();
        CommandLine sub = cl.getSubcommands().get("demo");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute("demo", "--once");
        DemoCommand ran = sub.getCommand();
        List<StepResult> steps = ran.results();

        assertThat(steps).as(out + "\n" + err).hasSize(Walkthrough.STEPS);
        for (StepResult s : steps) {
            assertThat(s.passed()).as("step %d (%s): %s%n%s", s.number(), s.title(), s.problem(), out).isTrue();
        }
        Map<String, Object> allowed = steps.get(0).facts();
        assertThat(allowed).containsEntry("status", 200).containsEntry("executed", 1L)
                .containsEntry("toolTokenType", "tollgate-exchanged+jwt")
                .containsEntry("toolTokenAudience", Demo.TOOL.toString())
                .as("tools/list lists only the task's tools").containsEntry("listedTools", 2);
        assertThat(steps.get(1).facts()).containsEntry("status", 401).containsEntry("reason", "missing")
                .containsEntry("executed", 0L);
        assertThat(steps.get(2).facts()).containsEntry("status", 403).containsEntry("reason", "tool_not_in_scope")
                .containsEntry("executed", 0L);
        assertThat(steps.get(3).facts()).containsEntry("status", 403).containsEntry("reason", "transition_forbidden")
                .containsEntry("rule", Walkthrough.TRANSITION_RULE).containsEntry("executed", 2L);
        assertThat(steps.get(4).facts().get("agentSerialAfter")).isNotEqualTo(steps.get(4).facts().get("agentSerialBefore"));
        assertThat(steps.get(4).facts().get("toolSerialAfter")).isNotEqualTo(steps.get(4).facts().get("toolSerialBefore"));
        assertThat(steps.get(4).facts()).containsEntry("failed", 0L);
        assertThat((Long) steps.get(4).facts().get("requests")).isGreaterThanOrEqualTo(2L * Walkthrough.LOAD_REQUESTS_EACH_SIDE);
        assertThat(steps.get(5).facts()).containsEntry("status", 401).containsEntry("reason", "revoked")
                .containsEntry("executed", 0L);
        assertThat((Double) steps.get(5).facts().get("propagationMillis")).isGreaterThanOrEqualTo(0.0);

        Map<String, Object> governance = steps.get(6).facts();
        assertThat(governance).as("the batch agent's call without a task token reached the legacy API with the "
                + "injected key, never with its own").containsEntry("status", 200).containsEntry("injected", 1L)
                .containsEntry("agentKeyReachedUpstream", false);
        assertThat(governance.get("requestedBy")).as("requested and approved by two operators")
                .isNotEqualTo(governance.get("approvedBy"));
        assertThat(((List<?>) governance.get("inventoryKinds")).stream().map(String::valueOf).toList())
                .as("the batch workload's inventory").contains("exception", "svid", "upstream_secret", "upstream_tls");
        assertThat(governance).as("the posture report flags the TLS 1.2 legacy upstream")
                .containsEntry("postureRule", Walkthrough.WEAK_TLS_RULE);
        assertThat(governance).as("after the revocation the same call is refused at the sidecar and nothing "
                + "reaches the legacy API").containsEntry("reachedAfterRevocation", 0L);
        assertThat((Integer) governance.get("deniedStatus")).isIn(401, 403);

        assertThat(code).as(err.toString()).isZero();
        assertThat(out.toString()).contains("7 of 7 steps as expected").contains("Where to look next")
                .contains("/metrics").contains("audit list").contains("inventory list").contains("posture")
                .as("the govern hint names the exception whose requester, approver and revoker 'show' prints")
                .contains("exception show " + governance.get("exception"));
        assertThat(ran.workDir()).as("the temporary directory is deleted").isNotNull();
        assertThat(Files.exists(ran.workDir())).as("the temporary directory is deleted").isFalse();
    }
}
