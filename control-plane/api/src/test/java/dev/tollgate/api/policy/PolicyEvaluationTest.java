package dev.tollgate.api.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.wire.Json;

class PolicyEvaluationTest {
    static final Instant T0 = Instant.parse("2026-11-22T10:00:00Z");

    static final String TOOLS = """
            version: "t.1"
            tools:
              crm.read_customer: {labels: [sensitive-read]}
              web.post: {labels: [external-egress]}
              mail.send: {labels: [write, external-egress]}
              search: {labels: []}
              payments.refund:
            """;

    static Policy policy(String rules) throws PolicyException {
        return Policy.parse(TOOLS + "rules:\n" + rules.indent(2));
    }

    static JsonNode json(String s) {
        try {
            return Json.mapper().readTree(s);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    final TaskHistory history = new TaskHistory("task-1", 64);

    Decision admit(Policy p, String tool, Instant at) {
        return p.admit(history, List.of(ToolCall.of(tool)), at);
    }

    static Decision.Denied denied(Decision d) {
        assertThat(d).isInstanceOf(Decision.Denied.class);
        return (Decision.Denied) d;
    }

    @Test
    void deniesAToolThePolicyDoesNotList() throws Exception {
        Policy p = policy("[]");
        Decision.Denied d = denied(admit(p, "shell.exec", T0));
        assertThat(d.ruleId()).isEqualTo("unknown-tool");
        assertThat(d.reason()).isEqualTo("unknown_tool");
        assertThat(d.after()).isEmpty();
        assertThat(history.size()).isZero();
    }

    @Test
    void allowsListedToolsWithoutRules() throws Exception {
        Policy p = policy("[]");
        assertThat(admit(p, "search", T0)).isEqualTo(new Decision.Allowed(List.of()));
        assertThat(history.size()).isEqualTo(1);
        assertThat(p.knows("search")).isTrue();
        assertThat(p.labels("mail.send")).containsExactly("write", "external-egress");
        assertThat(p.labels("payments.refund")).isEmpty();
    }

    @Test
    void deniesExternalEgressEverAfterSensitiveRead() throws Exception {
        Policy p = policy("""
                - id: no-exfiltration
                  transition: {after: {label: sensitive-read}, then: {label: external-egress}, within: ever}
                """);
        assertThat(admit(p, "web.post", T0).allowed()).isTrue();
        assertThat(admit(p, "crm.read_customer", T0.plusSeconds(1)).allowed()).isTrue();
        assertThat(admit(p, "search", T0.plusSeconds(2)).allowed()).isTrue();
        Decision.Denied d = denied(admit(p, "mail.send", T0.plusSeconds(3)));
        assertThat(d.ruleId()).isEqualTo("no-exfiltration");
        assertThat(d.reason()).isEqualTo("transition_forbidden");
        assertThat(d.denialReason()).isEqualTo(DenialReason.TRANSITION_FORBIDDEN);
        assertThat(d.after()).contains(new EarlierCall("crm.read_customer", 1, T0.plusSeconds(1)));
        assertThat(history.size()).isEqualTo(3);
    }

    @Test
    void deniesANextTransitionOnlyImmediatelyAfter() throws Exception {
        Policy p = policy("""
                - id: no-direct-post
                  transition: {after: {tool: crm.read_customer}, then: {tool: web.post}, within: next}
                """);
        assertThat(admit(p, "crm.read_customer", T0).allowed()).isTrue();
        Decision.Denied d = denied(admit(p, "web.post", T0.plusSeconds(1)));
        assertThat(d.after()).contains(new EarlierCall("crm.read_customer", 0, T0));
        assertThat(admit(p, "search", T0.plusSeconds(2)).allowed()).isTrue();
        assertThat(admit(p, "web.post", T0.plusSeconds(3)).allowed()).isTrue();
    }

    @Test
    void withinDefaultsToEver() throws Exception {
        Policy p = policy("""
                - id: t
                  transition: {after: {tool: crm.read_customer}, then: {tool: web.post}}
                """);
        admit(p, "crm.read_customer", T0);
        admit(p, "search", T0);
        assertThat(denied(admit(p, "web.post", T0)).ruleId()).isEqualTo("t");
    }

    @Test
    void dryRunRuleReportsButNeverDenies() throws Exception {
        Policy p = policy("""
                - id: no-exfiltration
                  transition: {after: {label: sensitive-read}, then: {label: external-egress}}
                  mode: dry-run
                """);
        admit(p, "crm.read_customer", T0);
        Decision d = admit(p, "web.post", T0.plusSeconds(1));
        assertThat(d.allowed()).isTrue();
        assertThat(d.dryRun()).containsExactly(new DryRunHit("no-exfiltration", "transition_forbidden",
                Optional.of(new EarlierCall("crm.read_customer", 0, T0))));
        assertThat(history.size()).isEqualTo(2);
    }

    @Test
    void dryRunHitsBeforeAnEnforcedDenialAreReported() throws Exception {
        Policy p = policy("""
                - id: watch
                  limit: {max-calls: 1}
                  mode: dry-run
                - id: cap
                  limit: {select: {tool: search}, max-calls: 1}
                """);
        admit(p, "search", T0);
        Decision.Denied d = denied(admit(p, "search", T0));
        assertThat(d.ruleId()).isEqualTo("cap");
        assertThat(d.dryRun()).extracting(DryRunHit::ruleId).containsExactly("watch");
    }

    @Test
    void stepUpDeniesAnOldOrUnknownCredential() throws Exception {
        Policy p = policy("""
                - id: fresh-credential-for-writes
                  step-up: {select: {label: write}, max-credential-age: 60s}
                """);
        Instant now = T0.plusSeconds(600);
        assertThat(p.admit(history, List.of(new ToolCall("mail.send", null, now.minusSeconds(60))), now).allowed()).isTrue();
        Decision.Denied d = denied(p.admit(history, List.of(new ToolCall("mail.send", null, now.minusSeconds(61))), now));
        assertThat(d.reason()).isEqualTo("step_up_required");
        assertThat(d.ruleId()).isEqualTo("fresh-credential-for-writes");
        assertThat(denied(p.admit(history, List.of(ToolCall.of("mail.send")), now)).reason()).isEqualTo("step_up_required");
        assertThat(p.admit(history, List.of(ToolCall.of("web.post")), now).allowed()).isTrue();
    }

    @Test
    void limitCountsCallsOfAToolPerTask() throws Exception {
        Policy p = policy("""
                - id: crm-call-limit
                  limit: {select: {tool: crm.read_customer}, max-calls: 2}
                """);
        assertThat(admit(p, "crm.read_customer", T0).allowed()).isTrue();
        assertThat(admit(p, "search", T0).allowed()).isTrue();
        assertThat(admit(p, "crm.read_customer", T0).allowed()).isTrue();
        Decision.Denied d = denied(admit(p, "crm.read_customer", T0.plus(Duration.ofDays(1))));
        assertThat(d.reason()).isEqualTo("call_limit_exceeded");
        TaskHistory other = new TaskHistory("task-2", 64);
        assertThat(p.admit(other, List.of(ToolCall.of("crm.read_customer")), T0).allowed()).isTrue();
    }

    @Test
    void limitByLabelCountsEveryToolOfTheLabel() throws Exception {
        Policy p = policy("""
                - id: egress-limit
                  limit: {select: {label: external-egress}, max-calls: 2}
                """);
        admit(p, "web.post", T0);
        admit(p, "mail.send", T0);
        assertThat(denied(admit(p, "web.post", T0)).ruleId()).isEqualTo("egress-limit");
    }

    @Test
    void limitWithoutSelectCountsEveryCallOfTheTask() throws Exception {
        Policy p = policy("""
                - id: task-limit
                  limit: {max-calls: 3}
                """);
        admit(p, "web.post", T0);
        admit(p, "search", T0);
        admit(p, "crm.read_customer", T0);
        assertThat(denied(admit(p, "payments.refund", T0)).ruleId()).isEqualTo("task-limit");
    }

    @Test
    void limitSurvivesForgottenHistory() throws Exception {
        Policy p = policy("""
                - id: crm-call-limit
                  limit: {select: {tool: crm.read_customer}, max-calls: 2}
                """);
        TaskHistory small = new TaskHistory("t", 2);
        p.admit(small, List.of(ToolCall.of("crm.read_customer")), T0);
        p.admit(small, List.of(ToolCall.of("crm.read_customer")), T0);
        for (int i = 0; i < 5; i++) {
            p.admit(small, List.of(ToolCall.of("search")), T0);
        }
        assertThat(p.admit(small, List.of(ToolCall.of("crm.read_customer")), T0).allowed()).isFalse();
    }

    @Test
    void rateDeniesWithinTheSlidingWindowAndAllowsAfterIt() throws Exception {
        Policy p = policy("""
                - id: post-rate
                  rate: {select: {label: external-egress}, max: 2, per: 10s}
                """);
        assertThat(admit(p, "web.post", T0).allowed()).isTrue();
        assertThat(admit(p, "mail.send", T0.plusSeconds(5)).allowed()).isTrue();
        Decision.Denied d = denied(admit(p, "web.post", T0.plusSeconds(9)));
        assertThat(d.reason()).isEqualTo("rate_limited");
        assertThat(admit(p, "search", T0.plusSeconds(9)).allowed()).isTrue();
        // at T0+10s the first call has left the window
        assertThat(admit(p, "web.post", T0.plusSeconds(10)).allowed()).isTrue();
        assertThat(admit(p, "web.post", T0.plusSeconds(11)).allowed()).isFalse();
    }

    @Test
    void rateWithoutSelectCountsEveryCall() throws Exception {
        Policy p = policy("""
                - id: task-rate
                  rate: {max: 2, per: 1s}
                """);
        admit(p, "search", T0);
        admit(p, "web.post", T0.plusMillis(500));
        assertThat(denied(admit(p, "crm.read_customer", T0.plusMillis(999))).ruleId()).isEqualTo("task-rate");
        assertThat(admit(p, "crm.read_customer", T0.plusMillis(1000)).allowed()).isTrue();
    }

    @Test
    void rateFailsClosedWhenTheWindowReachesPastTheRetainedHistory() throws Exception {
        Policy p = policy("""
                - id: post-rate
                  rate: {select: {tool: web.post}, max: 3, per: 1h}
                """);
        TaskHistory small = new TaskHistory("t", 2);
        p.admit(small, List.of(ToolCall.of("web.post")), T0);
        p.admit(small, List.of(ToolCall.of("search")), T0);
        p.admit(small, List.of(ToolCall.of("search")), T0);
        assertThat(denied(p.admit(small, List.of(ToolCall.of("web.post")), T0.plusSeconds(1))).reason())
                .isEqualTo("rate_limited");
        // once the forgotten calls are outside the window, counting is exact again
        assertThat(p.admit(small, List.of(ToolCall.of("web.post")), T0.plus(Duration.ofHours(2))).allowed()).isTrue();
    }

    @Test
    void argumentsRuleChecksEveryConstraint() throws Exception {
        Policy p = policy("""
                - id: small-refunds
                  arguments:
                    select: {tool: payments.refund}
                    constraints:
                      - {pointer: /amount, pattern: "[0-9]{1,3}"}
                      - {pointer: /currency, in: [EUR, USD]}
                """);
        assertThat(call(p, "payments.refund", "{\"amount\": 120, \"currency\": \"EUR\"}").allowed()).isTrue();
        assertThat(call(p, "payments.refund", "{\"amount\": \"999\", \"currency\": \"USD\"}").allowed()).isTrue();
        Decision.Denied d = denied(call(p, "payments.refund", "{\"amount\": 1200, \"currency\": \"EUR\"}"));
        assertThat(d.reason()).isEqualTo("argument_not_allowed");
        assertThat(d.ruleId()).isEqualTo("small-refunds");
        assertThat(call(p, "payments.refund", "{\"amount\": 12, \"currency\": \"GBP\"}").allowed()).isFalse();
        assertThat(call(p, "payments.refund", "{\"currency\": \"EUR\"}").allowed()).isFalse();
        assertThat(call(p, "payments.refund", "{\"amount\": 12.5, \"currency\": \"EUR\"}").allowed()).isFalse();
        assertThat(p.admit(history, List.of(ToolCall.of("payments.refund")), T0).allowed()).isFalse();
        assertThat(call(p, "search", "{}").allowed()).isTrue();
    }

    Decision call(Policy p, String tool, String args) {
        return p.admit(history, List.of(new ToolCall(tool, json(args), T0)), T0);
    }

    @Test
    void batchIsEvaluatedInOrderAsIfEarlierCallsHadHappened() throws Exception {
        Policy p = policy("""
                - id: no-exfiltration
                  transition: {after: {label: sensitive-read}, then: {label: external-egress}}
                """);
        Decision.Denied d = denied(p.admit(history, List.of(ToolCall.of("search"), ToolCall.of("crm.read_customer"),
                ToolCall.of("web.post")), T0));
        assertThat(d.ruleId()).isEqualTo("no-exfiltration");
        assertThat(d.after()).contains(new EarlierCall("crm.read_customer", 1, T0));
        assertThat(d.call()).as("the index of the denied call in the batch").isEqualTo(2);
        assertThat(history.size()).as("a denied batch records nothing").isZero();
        // the reverse order is allowed and recorded entirely
        assertThat(p.admit(history, List.of(ToolCall.of("web.post"), ToolCall.of("crm.read_customer")), T0).allowed())
                .isTrue();
        assertThat(history.size()).isEqualTo(2);
        assertThat(history.count("crm.read_customer")).isEqualTo(1);
        assertThat(denied(admit(p, "web.post", T0)).after()).contains(new EarlierCall("crm.read_customer", 1, T0));
    }

    @Test
    void batchCountsItsOwnCallsAgainstLimits() throws Exception {
        Policy p = policy("""
                - id: two
                  limit: {select: {tool: search}, max-calls: 2}
                """);
        assertThat(denied(p.admit(history, List.of(ToolCall.of("search"), ToolCall.of("search"),
                ToolCall.of("search")), T0)).call()).isEqualTo(2);
        assertThat(history.size()).isZero();
        assertThat(p.admit(history, List.of(ToolCall.of("search"), ToolCall.of("search")), T0).allowed()).isTrue();
    }

    @Test
    void batchWithAnUnknownToolRecordsNothing() throws Exception {
        Policy p = policy("[]");
        Decision.Denied d = denied(p.admit(history, List.of(ToolCall.of("search"), ToolCall.of("nope")), T0));
        assertThat(d.ruleId()).isEqualTo("unknown-tool");
        assertThat(d.call()).isEqualTo(1);
        assertThat(history.size()).isZero();
    }

    @Test
    void everTransitionSurvivesALongTaskThatForgetsTheSensitiveRead() throws Exception {
        Policy p = policy("""
                - id: no-exfiltration
                  transition: {after: {label: sensitive-read}, then: {label: external-egress}}
                """);
        TaskHistory small = new TaskHistory("long", 4);
        p.admit(small, List.of(ToolCall.of("crm.read_customer")), T0);
        for (int i = 0; i < 1000; i++) {
            assertThat(p.admit(small, List.of(ToolCall.of("search")), T0.plusSeconds(i)).allowed()).isTrue();
        }
        Decision.Denied d = denied(p.admit(small, List.of(ToolCall.of("web.post")), T0.plusSeconds(2000)));
        assertThat(d.after()).contains(new EarlierCall("crm.read_customer", 0, T0));
    }

    @Test
    void rulesOnOtherToolsDoNotApply() throws Exception {
        Policy p = policy("""
                - id: crm-limit
                  limit: {select: {tool: crm.read_customer}, max-calls: 1}
                - id: refunds
                  arguments: {select: {tool: payments.refund}, constraints: [{pointer: /a, equals: x}]}
                """);
        for (int i = 0; i < 10; i++) {
            assertThat(admit(p, "web.post", T0).allowed()).isTrue();
        }
    }

    @Test
    void firstEnforcedRuleInDocumentOrderDecides() throws Exception {
        Policy p = policy("""
                - id: task-limit
                  limit: {max-calls: 1}
                - id: search-limit
                  limit: {select: {tool: search}, max-calls: 1}
                """);
        admit(p, "search", T0);
        assertThat(denied(admit(p, "search", T0)).ruleId()).isEqualTo("task-limit");
        Policy q = policy("""
                - id: search-limit
                  limit: {select: {tool: search}, max-calls: 1}
                - id: task-limit
                  limit: {max-calls: 1}
                """);
        TaskHistory h = new TaskHistory("t", 8);
        q.admit(h, List.of(ToolCall.of("search")), T0);
        assertThat(denied(q.admit(h, List.of(ToolCall.of("search")), T0)).ruleId()).isEqualTo("search-limit");
    }

    @Test
    void versionDigestAndSourceDescribeTheDocument() throws Exception {
        String yaml = TOOLS + "rules: []\n";
        Policy p = Policy.parse(yaml);
        assertThat(p.version()).isEqualTo("t.1");
        assertThat(p.source()).isSameAs(yaml);
        assertThat(p.digest()).matches("sha256:[0-9a-f]{64}");
        assertThat(Policy.parse(yaml + "\n").digest()).isNotEqualTo(p.digest());
    }

    @Test
    void historyGrowsToItsBoundWithoutLosingOrder() throws Exception {
        Policy p = policy("""
                - id: search-rate
                  rate: {select: {tool: search}, max: 30, per: 1h}
                - id: no-post-right-after-read
                  transition: {after: {tool: crm.read_customer}, then: {tool: web.post}, within: next}
                """);
        TaskHistory h = new TaskHistory("grow", 64);
        for (int i = 0; i < 60; i++) {
            String tool = i % 2 == 0 ? "search" : "crm.read_customer";
            assertThat(p.admit(h, List.of(ToolCall.of(tool)), T0.plusSeconds(i)).allowed()).as("call %d", i).isTrue();
        }
        assertThat(denied(p.admit(h, List.of(ToolCall.of("web.post")), T0.plusSeconds(60))).after())
                .contains(new EarlierCall("crm.read_customer", 59, T0.plusSeconds(59)));
        assertThat(denied(p.admit(h, List.of(ToolCall.of("search")), T0.plusSeconds(61))).ruleId()).isEqualTo("search-rate");
        // the first search leaves the hour-long window at T0 + 1h
        assertThat(p.admit(h, List.of(ToolCall.of("search")), T0.plusSeconds(3600)).allowed()).isTrue();
    }

    @Test
    void loadsAPolicyFileAndNamesItInProblems(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path good = dir.resolve("policy.yaml");
        java.nio.file.Files.writeString(good, TOOLS + "rules: []\n");
        assertThat(Policy.load(good).knows("web.post")).isTrue();
        java.nio.file.Path bad = dir.resolve("bad.yaml");
        java.nio.file.Files.writeString(bad, "version: v1\n");
        assertThat(org.assertj.core.api.Assertions.catchThrowableOfType(() -> Policy.load(bad), PolicyException.class)
                .problems()).containsExactly(bad + ": tools: missing (expected: a mapping of tool name to {labels: [...]}; "
                        + "unlisted tools are denied)");
        assertThat(org.assertj.core.api.Assertions.catchThrowableOfType(() -> Policy.load(dir.resolve("none.yaml")),
                PolicyException.class).problems().get(0)).startsWith(dir.resolve("none.yaml") + ": cannot be read (");
    }

    @Test
    void aTaskCallingMoreDistinctToolsThanTrackedIsDenied() throws Exception {
        TaskHistory h = new TaskHistory("many", 8);
        int perPolicy = PolicyLoader.MAX_TOOLS;
        for (int round = 0; round < TaskHistory.MAX_TRACKED_TOOLS / perPolicy; round++) {
            StringBuilder y = new StringBuilder("version: v1\ntools:\n");
            for (int i = 0; i < perPolicy; i++) {
                y.append("  r").append(round).append("t").append(i).append(": {}\n");
            }
            Policy p = Policy.parse(y.toString());
            for (String tool : p.tools()) {
                assertThat(p.admit(h, List.of(ToolCall.of(tool)), T0).allowed()).isTrue();
            }
        }
        Policy next = Policy.parse("version: v2\ntools: {r0t0: {}, fresh: {}}\n");
        assertThat(next.admit(h, List.of(ToolCall.of("r0t0")), T0).allowed()).as("an already tracked tool").isTrue();
        Decision.Denied d = denied(next.admit(h, List.of(ToolCall.of("fresh")), T0));
        assertThat(d.ruleId()).isEqualTo("task-history-full");
        assertThat(d.reason()).isEqualTo("call_limit_exceeded");
    }

    @Test
    void recordedTimesNeverGoBackwards() throws Exception {
        Policy p = policy("""
                - id: post-rate
                  rate: {select: {tool: web.post}, max: 2, per: 10s}
                """);
        admit(p, "web.post", T0.plusSeconds(5));
        admit(p, "search", T0.plusSeconds(4)); // a late arrival with an earlier clock reading, recorded at +5s
        admit(p, "web.post", T0.plusSeconds(6));
        assertThat(denied(admit(p, "web.post", T0.plusSeconds(14))).reason()).isEqualTo("rate_limited");
        assertThat(admit(p, "web.post", T0.plusSeconds(15)).allowed()).isTrue();
    }
}
