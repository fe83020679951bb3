package dev.tollgate.api.policy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PolicyDiffTest {
    static final String OLD = """
            version: "2026-11-22.1"
            tools:
              crm.read_customer: {labels: [sensitive-read]}
              web.post: {labels: [external-egress]}
              shell.exec: {labels: []}
            rules:
              - id: no-exfiltration
                transition: {after: {label: sensitive-read}, then: {label: external-egress}, within: ever}
              - id: crm-call-limit
                limit: {select: {tool: crm.read_customer}, max-calls: 100}
              - id: old-rate
                rate: {max: 10, per: 1m}
            """;

    static final String NEW = """
            version: "2026-11-22.2"
            tools:
              crm.read_customer: {labels: [sensitive-read, pii]}
              web.post: {labels: [external-egress]}
              mail.send: {labels: [write, external-egress]}
            rules:
              - id: no-exfiltration
                transition: {after: {label: sensitive-read}, then: {label: external-egress}, within: ever}
                mode: dry-run
              - id: crm-call-limit
                limit: {select: {tool: crm.read_customer}, max-calls: 50}
              - id: fresh-credential-for-writes
                step-up: {select: {label: write}, max-credential-age: 60s}
            """;

    @Test
    void listsVersionToolsAndRulesAddedRemovedAndChanged() throws Exception {
        Policy a = Policy.parse(OLD);
        Policy b = Policy.parse(NEW);
        PolicyDiff diff = PolicyDiff.between(a, b);
        assertThat(diff.isEmpty()).isFalse();
        assertThat(diff.lines()).containsExactly(
                "version: 2026-11-22.1 → 2026-11-22.2 (" + a.digest() + " → " + b.digest() + ")",
                "tool shell.exec: removed (labels [])",
                "tool crm.read_customer: labels [sensitive-read] → [sensitive-read, pii]",
                "tool mail.send: added (labels [write, external-egress])",
                "rule old-rate: removed (rate: every call at most 10 per 1m)",
                "rule no-exfiltration: changed (transition: label external-egress denied ever after label sensitive-read"
                        + " → transition: label external-egress denied ever after label sensitive-read [dry-run])",
                "rule crm-call-limit: changed (limit: tool crm.read_customer at most 100 calls per task"
                        + " → limit: tool crm.read_customer at most 50 calls per task)",
                "rule fresh-credential-for-writes: added (step-up: label write needs a credential at most 1m old)");
    }

    @Test
    void samePolicyRewrittenHasNoChangesButANewDigest() throws Exception {
        Policy a = Policy.parse(OLD);
        Policy b = Policy.parse(OLD.replace("max-calls: 100}", "max-calls:   100}   # the same"));
        PolicyDiff diff = PolicyDiff.between(a, b);
        assertThat(diff.isEmpty()).isTrue();
        assertThat(diff.lines()).containsExactly(
                "version: 2026-11-22.1 (" + a.digest() + " → " + b.digest() + ")", "no changes to tools or rules");
        assertThat(PolicyDiff.between(a, a).lines().get(0)).isEqualTo("version: 2026-11-22.1 (" + a.digest() + ")");
    }

    @Test
    void describesArgumentConstraints() throws Exception {
        String base = """
                version: v1
                tools: {payments.refund: {}}
                rules:
                  - id: small-refunds
                    arguments:
                      select: {tool: payments.refund}
                      constraints:
                        - {pointer: /amount, pattern: "[0-9]{1,3}"}
                        - {pointer: /currency, in: [EUR, USD]}
                """;
        Policy a = Policy.parse(base);
        Policy b = Policy.parse(base.replace("[EUR, USD]", "[EUR]"));
        assertThat(PolicyDiff.between(a, b).lines()).contains("rule small-refunds: changed (arguments: tool payments.refund"
                + " needs /amount matches /[0-9]{1,3}/ and /currency in [EUR, USD] → arguments: tool payments.refund needs"
                + " /amount matches /[0-9]{1,3}/ and /currency in [EUR])");
    }
}
