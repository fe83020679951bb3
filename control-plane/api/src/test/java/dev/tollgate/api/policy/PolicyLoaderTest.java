package dev.tollgate.api.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PolicyLoaderTest {
    static final String HEAD = """
            version: "v1"
            tools:
              crm.read_customer: {labels: [sensitive-read]}
              web.post: {labels: [external-egress]}
            """;

    static String rules(String rules) {
        return HEAD + "rules:\n" + rules.indent(2);
    }

    static PolicyException rejected(String yaml) {
        try {
            Policy.parse(yaml);
        } catch (PolicyException e) {
            assertThat(e.problems()).isNotEmpty();
            return e;
        }
        throw new AssertionError("accepted: " + yaml);
    }

    static Stream<Arguments> invalidDocuments() {
        return Stream.of(
                Arguments.of("not YAML", "version: [unclosed", "not valid YAML (while parsing a flow sequence)"),
                Arguments.of("empty document", "", "policy: empty document"),
                Arguments.of("comment only", "# nothing\n", "policy: empty document"),
                Arguments.of("two documents", HEAD + "---\n" + HEAD, "policy: more than one YAML document"),
                Arguments.of("alias", HEAD + "rules: *x\n", "YAML alias"),
                Arguments.of("anchor", "version: v1\ntools: &t {}\n", "YAML anchor '&t'"),
                Arguments.of("billion laughs", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "YAML anchor"),
                Arguments.of("tag", "version: !!str v1\ntools: {}\n", "YAML tag '!tag:yaml.org,2002:str'"),
                Arguments.of("custom tag", "version: !java.lang.Runtime v1\ntools: {}\n", "YAML tag"),
                Arguments.of("duplicate key", HEAD + "version: \"v2\"\n", "duplicate key 'version'"),
                Arguments.of("nested duplicate key", "version: v1\ntools:\n  a: {labels: [x], labels: [y]}\n",
                        "duplicate key 'labels'"),
                Arguments.of("too deep", "version: v1\ntools: " + "[".repeat(40) + "]".repeat(40) + "\n", "policy:"),
                Arguments.of("root is a list", "- a\n- b\n", "policy: a list (expected: a mapping"),
                Arguments.of("root is text", "hello\n", "policy: 'hello'"),
                Arguments.of("unknown top-level key", HEAD + "rulez: []\n", "rulez: unknown key"),
                Arguments.of("version missing", "tools: {}\n", "version: missing"),
                Arguments.of("version not text", "version: 12\ntools: {}\n", "version: 12 (expected"),
                Arguments.of("version bad characters", "version: \"a b\"\ntools: {}\n", "version: 'a b'"),
                Arguments.of("version too long", "version: " + "v".repeat(65) + "\ntools: {}\n", "version: 'vvvv"),
                Arguments.of("tools missing", "version: v1\n", "tools: missing"),
                Arguments.of("tools a list", "version: v1\ntools: [a]\n", "tools: a list"),
                Arguments.of("tool name invalid", "version: v1\ntools:\n  \"bad tool\": {labels: []}\n",
                        "tools: 'bad tool'"),
                Arguments.of("tool not a mapping", "version: v1\ntools:\n  a: [x]\n", "tools.a: a list"),
                Arguments.of("unknown tool key", "version: v1\ntools:\n  a: {label: [x]}\n", "tools.a.label: unknown key"),
                Arguments.of("labels not a list", "version: v1\ntools:\n  a: {labels: x}\n", "tools.a.labels: 'x'"),
                Arguments.of("label invalid", "version: v1\ntools:\n  a: {labels: [Sensitive]}\n",
                        "tools.a.labels[0]: 'Sensitive'"),
                Arguments.of("label repeated", "version: v1\ntools:\n  a: {labels: [x, x]}\n",
                        "tools.a.labels[1]: 'x' appears twice"),
                Arguments.of("too many labels", "version: v1\ntools:\n  a: {labels: [" + labels(17) + "]}\n",
                        "tools.a.labels: 17 labels"),
                Arguments.of("rules not a list", HEAD + "rules: {}\n", "rules: a mapping"),
                Arguments.of("rule not a mapping", rules("- x"), "rules[0]: 'x'"),
                Arguments.of("rule id missing", rules("- limit: {max-calls: 1}"), "rules[0].id: missing"),
                Arguments.of("rule id invalid", rules("- {id: No_Way, limit: {max-calls: 1}}"), "rules[0].id: 'No_Way'"),
                Arguments.of("rule id reserved", rules("- {id: unknown-tool, limit: {max-calls: 1}}"),
                        "rules[0].id: 'unknown-tool' is reserved"),
                Arguments.of("rule id repeated", rules("- {id: a, limit: {max-calls: 1}}\n- {id: a, limit: {max-calls: 2}}"),
                        "rules[1].id: 'a' is used by an earlier rule"),
                Arguments.of("unknown rule key", rules("- {id: a, limit: {max-calls: 1}, note: x}"),
                        "rules[0].note: unknown key"),
                Arguments.of("mode invalid", rules("- {id: a, limit: {max-calls: 1}, mode: audit}"),
                        "rules[0].mode: 'audit' (expected: enforce or dry-run)"),
                Arguments.of("no kind", rules("- {id: a}"), "rules[0]: no kind (expected: exactly one of"),
                Arguments.of("two kinds", rules("- {id: a, limit: {max-calls: 1}, rate: {max: 1, per: 1s}}"),
                        "rules[0]: limit, rate (expected: exactly one of"),
                Arguments.of("kind not a mapping", rules("- {id: a, limit: 5}"), "rules[0].limit: 5 (expected: a mapping)"),
                Arguments.of("transition after missing", rules("- {id: a, transition: {then: {tool: web.post}}}"),
                        "rules[0].transition.after: missing"),
                Arguments.of("selector with both", rules(
                        "- {id: a, transition: {after: {tool: web.post, label: external-egress}, then: {tool: web.post}}}"),
                        "rules[0].transition.after: both tool and label"),
                Arguments.of("selector with neither", rules("- {id: a, transition: {after: {}, then: {tool: web.post}}}"),
                        "rules[0].transition.after: neither tool nor label"),
                Arguments.of("selector not a mapping", rules("- {id: a, transition: {after: web.post, then: {tool: web.post}}}"),
                        "rules[0].transition.after: 'web.post' (expected: {tool: name} or {label: name})"),
                Arguments.of("unknown selector key", rules(
                        "- {id: a, transition: {after: {tools: web.post}, then: {tool: web.post}}}"),
                        "rules[0].transition.after.tools: unknown key"),
                Arguments.of("selector names an unlisted tool", rules(
                        "- {id: a, transition: {after: {tool: shell}, then: {tool: web.post}}}"),
                        "rules[0].transition.after.tool: 'shell' is not listed under tools"),
                Arguments.of("selector names an unused label", rules(
                        "- {id: a, transition: {after: {label: write}, then: {tool: web.post}}}"),
                        "rules[0].transition.after.label: 'write' is carried by no tool"),
                Arguments.of("within invalid", rules(
                        "- {id: a, transition: {after: {tool: web.post}, then: {tool: web.post}, within: always}}"),
                        "rules[0].transition.within: 'always' (expected: ever or next)"),
                Arguments.of("step-up age missing", rules("- {id: a, step-up: {select: {tool: web.post}}}"),
                        "rules[0].step-up.max-credential-age: missing"),
                Arguments.of("duration without unit", rules("- {id: a, step-up: {max-credential-age: 60}}"),
                        "rules[0].step-up.max-credential-age: 60 (expected: a duration"),
                Arguments.of("duration unit unknown", rules("- {id: a, step-up: {max-credential-age: 2d}}"),
                        "rules[0].step-up.max-credential-age: '2d'"),
                Arguments.of("duration zero", rules("- {id: a, step-up: {max-credential-age: 0s}}"),
                        "rules[0].step-up.max-credential-age: '0s'"),
                Arguments.of("duration too long", rules("- {id: a, step-up: {max-credential-age: 25h}}"),
                        "rules[0].step-up.max-credential-age: '25h'"),
                Arguments.of("limit missing", rules("- {id: a, limit: {select: {tool: web.post}}}"),
                        "rules[0].limit.max-calls: missing"),
                Arguments.of("limit zero", rules("- {id: a, limit: {max-calls: 0}}"), "rules[0].limit.max-calls: 0"),
                Arguments.of("limit text", rules("- {id: a, limit: {max-calls: \"5\"}}"), "rules[0].limit.max-calls: '5'"),
                Arguments.of("limit fraction", rules("- {id: a, limit: {max-calls: 1.5}}"), "rules[0].limit.max-calls: 1.5"),
                Arguments.of("limit huge", rules("- {id: a, limit: {max-calls: 99999999999999999999}}"),
                        "rules[0].limit.max-calls: 99999999999999999999"),
                Arguments.of("unknown limit key", rules("- {id: a, limit: {max-calls: 1, per: 1s}}"),
                        "rules[0].limit.per: unknown key"),
                Arguments.of("rate max too large", rules("- {id: a, rate: {max: 10001, per: 1s}}"), "rules[0].rate.max: 10001"),
                Arguments.of("rate per missing", rules("- {id: a, rate: {max: 1}}"), "rules[0].rate.per: missing"),
                Arguments.of("constraints missing", rules("- {id: a, arguments: {select: {tool: web.post}}}"),
                        "rules[0].arguments.constraints: missing"),
                Arguments.of("constraints empty", rules("- {id: a, arguments: {constraints: []}}"),
                        "rules[0].arguments.constraints: an empty list"),
                Arguments.of("too many constraints", rules("- {id: a, arguments: {constraints: [" + "{pointer: /a, equals: x},"
                        .repeat(17) + "]}}"), "rules[0].arguments.constraints: 17 constraints"),
                Arguments.of("constraint not a mapping", rules("- {id: a, arguments: {constraints: [x]}}"),
                        "rules[0].arguments.constraints[0]: 'x'"),
                Arguments.of("pointer missing", rules("- {id: a, arguments: {constraints: [{equals: x}]}}"),
                        "rules[0].arguments.constraints[0].pointer: missing"),
                Arguments.of("pointer invalid", rules("- {id: a, arguments: {constraints: [{pointer: amount, equals: x}]}}"),
                        "rules[0].arguments.constraints[0].pointer: 'amount'"),
                Arguments.of("pointer bad escape", rules("- {id: a, arguments: {constraints: [{pointer: /a~2, equals: x}]}}"),
                        "rules[0].arguments.constraints[0].pointer: '~' not followed by 0 or 1"),
                Arguments.of("no test", rules("- {id: a, arguments: {constraints: [{pointer: /a}]}}"),
                        "rules[0].arguments.constraints[0]: 0 of equals, in, prefix, pattern"),
                Arguments.of("two tests", rules("- {id: a, arguments: {constraints: [{pointer: /a, equals: x, prefix: y}]}}"),
                        "rules[0].arguments.constraints[0]: 2 of equals, in, prefix, pattern"),
                Arguments.of("unknown constraint key", rules(
                        "- {id: a, arguments: {constraints: [{pointer: /a, equals: x, regex: y}]}}"),
                        "rules[0].arguments.constraints[0].regex: unknown key"),
                Arguments.of("in not a list", rules("- {id: a, arguments: {constraints: [{pointer: /a, in: x}]}}"),
                        "rules[0].arguments.constraints[0].in: 'x'"),
                Arguments.of("in empty", rules("- {id: a, arguments: {constraints: [{pointer: /a, in: []}]}}"),
                        "rules[0].arguments.constraints[0].in: 0 values"),
                Arguments.of("in too many", rules("- {id: a, arguments: {constraints: [{pointer: /a, in: [" + labels(33)
                        + "]}]}}"), "rules[0].arguments.constraints[0].in: 33 values"),
                Arguments.of("in with a list", rules("- {id: a, arguments: {constraints: [{pointer: /a, in: [[x]]}]}}"),
                        "rules[0].arguments.constraints[0].in[0]: a list"),
                Arguments.of("equals a mapping", rules("- {id: a, arguments: {constraints: [{pointer: /a, equals: {x: 1}}]}}"),
                        "rules[0].arguments.constraints[0].equals: a mapping"),
                Arguments.of("value too long", rules("- {id: a, arguments: {constraints: [{pointer: /a, prefix: "
                        + "x".repeat(257) + "}]}}"), "rules[0].arguments.constraints[0].prefix: 257 characters"),
                Arguments.of("pattern invalid", rules("- {id: a, arguments: {constraints: [{pointer: /a, pattern: \"[a-\"}]}}"),
                        "rules[0].arguments.constraints[0].pattern: not a regular expression"),
                Arguments.of("pattern too long", rules("- {id: a, arguments: {constraints: [{pointer: /a, pattern: \""
                        + "a".repeat(257) + "\"}]}}"), "rules[0].arguments.constraints[0].pattern: 257 characters"));
    }

    static String labels(int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(i == 0 ? "" : ", ").append("l").append(i);
        }
        return b.toString();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidDocuments")
    void rejectsWithAProblemNamingThePath(String name, String yaml, String expected) {
        assertThat(rejected(yaml).problems()).as(name).anySatisfy(p -> assertThat(p).satisfiesAnyOf(
                q -> assertThat(q).startsWith(expected), q -> assertThat(q).startsWith("policy: line ").contains(expected)));
    }

    @Test
    void rejectsADocumentAboveTheSizeBound() {
        String yaml = HEAD + "#" + "x".repeat(Policy.MAX_DOCUMENT_CHARS) + "\n";
        assertThat(rejected(yaml).problems()).containsExactly("policy: " + yaml.length() + " characters (expected: <= "
                + Policy.MAX_DOCUMENT_CHARS + ")");
    }

    @Test
    void rejectsTooManyTools() {
        StringBuilder b = new StringBuilder("version: v1\ntools:\n");
        for (int i = 0; i <= PolicyLoader.MAX_TOOLS; i++) {
            b.append("  t").append(i).append(": {labels: []}\n");
        }
        assertThat(rejected(b.toString()).problems()).containsExactly("tools: " + (PolicyLoader.MAX_TOOLS + 1)
                + " tools (expected: <= " + PolicyLoader.MAX_TOOLS + ")");
    }

    @Test
    void rejectsTooManyRules() {
        StringBuilder b = new StringBuilder(HEAD + "rules:\n");
        for (int i = 0; i <= PolicyLoader.MAX_RULES; i++) {
            b.append("  - {id: r").append(i).append(", limit: {max-calls: 1}}\n");
        }
        assertThat(rejected(b.toString()).problems()).containsExactly("rules: " + (PolicyLoader.MAX_RULES + 1)
                + " rules (expected: <= " + PolicyLoader.MAX_RULES + ")");
    }

    @Test
    void reportsEveryProblemAtOnceUpToABound() {
        StringBuilder b = new StringBuilder(HEAD + "rules:\n");
        for (int i = 0; i < 150; i++) {
            b.append("  - {id: r").append(i).append(", limit: {max-calls: 0}}\n");
        }
        PolicyException e = rejected(b.toString());
        assertThat(e.problems()).hasSize(PolicyLoader.MAX_PROBLEMS + 1).last().isEqualTo("... more problems not shown");
        assertThat(e.problems().get(1)).startsWith("rules[1].limit.max-calls: 0");
    }

    @Test
    void refusesBillionLaughsQuickly() {
        StringBuilder b = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 10; i++) {
            b.append("a").append(i).append(": &a").append(i).append(" [").append(("*a" + (i - 1) + ",").repeat(10))
                    .append("]\n");
        }
        assertThat(rejected(b.toString()).problems().get(0)).contains("YAML anchor '&a0'");
    }

    @Test
    void acceptsTheSmallestPolicy() throws Exception {
        Policy p = Policy.parse("version: v1\ntools: {}\n");
        assertThat(p.tools()).isEmpty();
        assertThat(p.ruleCount()).isZero();
    }

    @Test
    void acceptsToolsWithoutLabelsAndNumbersAsConstraintValues() throws Exception {
        Policy p = Policy.parse("""
                version: "2026-11-22.1"
                tools:
                  a:
                  b: {}
                  c: {labels: [x]}
                rules:
                  - id: r
                    arguments: {select: {label: x}, constraints: [{pointer: /n, in: [1, 2, true]}, {pointer: "", equals: ""}]}
                """);
        assertThat(p.tools()).containsExactly("a", "b", "c");
        assertThat(p.labels("a")).isEmpty();
    }

    @Test
    void theExceptionMessageListsTheProblems() {
        PolicyException e = rejected("version: v1\n");
        assertThat(e.getMessage()).isEqualTo("invalid policy: tools: missing (expected: a mapping of tool name to "
                + "{labels: [...]}; unlisted tools are denied)");
        assertThatThrownBy(() -> new PolicyException(java.util.List.of())).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void rejectsRulesThatWouldIndexTooManyToolRulePairs() {
        StringBuilder b = new StringBuilder("version: v1\ntools:\n");
        for (int i = 0; i < 2000; i++) {
            b.append("  t").append(i).append(": {labels: [all]}\n");
        }
        b.append("rules:\n");
        for (int i = 0; i < 501; i++) {
            b.append("  - {id: r").append(i).append(", limit: {select: {label: all}, max-calls: 5}}\n");
        }
        assertThat(rejected(b.toString()).problems()).containsExactly("rules: select 1002000 (tool, rule) pairs in all"
                + " (expected: <= 1000000; select by tool, or use fewer rules per label)");
    }
}
