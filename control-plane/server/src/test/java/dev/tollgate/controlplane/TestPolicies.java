package dev.tollgate.controlplane;

/** Policy documents for tests of policy distribution (control plane, CLI and sidecar). */
public final class TestPolicies {
    private TestPolicies() {
    }

    /** A valid policy: no external egress after a sensitive read. */
    public static String v1() {
        return """
                version: "2026-11-22.1"
                tools:
                  crm.read_customer:
                    labels: [sensitive-read]
                  web.post:
                    labels: [external-egress]
                rules:
                  - id: no-exfiltration
                    transition:
                      after: {label: sensitive-read}
                      then: {label: external-egress}
                      within: ever
                """;
    }

    /** v1 with one more tool and a rate rule. */
    public static String v2() {
        return """
                version: "2026-11-22.2"
                tools:
                  crm.read_customer:
                    labels: [sensitive-read]
                  web.post:
                    labels: [external-egress]
                  mail.send:
                    labels: [write, external-egress]
                rules:
                  - id: no-exfiltration
                    transition:
                      after: {label: sensitive-read}
                      then: {label: external-egress}
                      within: ever
                  - id: post-rate
                    rate: {select: {label: external-egress}, max: 5, per: 10s}
                """;
    }

    /** A document with two problems: an unknown key and a rule with no kind. */
    public static String invalid() {
        return """
                version: "2026-11-22.3"
                tools:
                  web.post:
                    labels: [external-egress]
                    colour: blue
                rules:
                  - id: nothing
                """;
    }
}
