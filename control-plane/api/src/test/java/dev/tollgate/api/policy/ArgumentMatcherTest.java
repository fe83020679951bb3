package dev.tollgate.api.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.token.ArgumentConstraint;
import dev.tollgate.api.wire.Json;

class ArgumentMatcherTest {
    static final String EVIL = "(.*a){12}";

    static JsonNode json(String s) throws Exception {
        return Json.mapper().readTree(s);
    }

    static ArgumentMatcher equals(String pointer, String v) {
        return ArgumentMatcher.of(new ArgumentConstraint(pointer, v, null, null, null));
    }

    @Test
    void aValueReachedThroughAKeyAnotherKeyEqualsButForCaseDoesNotHold() throws Exception {
        // a server matching keys without regard to case (Go's encoding/json) may read the other value
        assertThat(equals("/amount", "1").test(json("{\"amount\": 1, \"Amount\": 1000}"))).isFalse();
        assertThat(equals("/to/0/acct", "a").test(json("{\"to\": [{\"acct\": \"a\", \"ACCT\": \"b\"}]}"))).isFalse();
        assertThat(equals("/to/0/acct", "a").test(json("{\"to\": [{\"acct\": \"a\"}], \"TO\": []}"))).isFalse();
        assertThat(equals("/desk", "1").test(json("{\"desk\": 1, \"des\u212A\": 2}"))).isFalse();
        // other keys differing only in case, off the pointer's path, change nothing
        assertThat(equals("/to/0/acct", "a").test(json("{\"to\": [{\"acct\": \"a\"}], \"env\": {\"Path\": 1, \"PATH\": 2}}")))
                .isTrue();
        assertThat(equals("/a", "x").test(json("{\"a\": \"x\", \"ab\": 1, \"b\": 2}"))).isTrue();
        assertThat(equals("/0", "x").test(json("[\"x\"]"))).isTrue();
    }

    @Test
    void caseFoldingIsGosForKeysAndMembers() {
        assertThat(CaseFold.fold("amount")).isSameAs("amount");
        assertThat(CaseFold.fold("AmOUNT")).isEqualTo("amount");
        assertThat(CaseFold.fold("\u212Aey")).isEqualTo("key");
        assertThat(CaseFold.fold("\u017Fum")).isEqualTo("sum");
        assertThat(CaseFold.fold("\u03A3\u03C2\u03C3")).isEqualTo("\u03C3\u03C3\u03C3");
        assertThat(CaseFold.fold("\uD801\uDC00x")).isEqualTo("\uD801\uDC28x"); // Deseret: outside the BMP
        assertThat(CaseFold.lookalikeOf("method", "jsonrpc", "method")).isNull();
        assertThat(CaseFold.lookalikeOf("METHOD", "jsonrpc", "method")).isEqualTo("method");
        assertThat(CaseFold.lookalikeOf("methods", "jsonrpc", "method")).isNull();
    }

    @Test
    void equalsComparesTheTextOfStringsNumbersAndBooleans() throws Exception {
        assertThat(equals("/a", "x").test(json("{\"a\": \"x\"}"))).isTrue();
        assertThat(equals("/a", "x").test(json("{\"a\": \"xy\"}"))).isFalse();
        assertThat(equals("/n", "42").test(json("{\"n\": 42}"))).isTrue();
        assertThat(equals("/n", "42").test(json("{\"n\": \"42\"}"))).isTrue();
        assertThat(equals("/b", "true").test(json("{\"b\": true}"))).isTrue();
        assertThat(equals("/a/0/b", "x").test(json("{\"a\": [{\"b\": \"x\"}]}"))).isTrue();
        assertThat(equals("/a~1b", "x").test(json("{\"a/b\": \"x\"}"))).isTrue();
        assertThat(equals("", "x").test(json("\"x\""))).isTrue();
    }

    @Test
    void missingNullAndContainerValuesFail() throws Exception {
        assertThat(equals("/a", "x").test(json("{}"))).isFalse();
        assertThat(equals("/a", "null").test(json("{\"a\": null}"))).isFalse();
        assertThat(equals("/a", "{}").test(json("{\"a\": {}}"))).isFalse();
        assertThat(equals("/a", "[]").test(json("{\"a\": []}"))).isFalse();
        assertThat(equals("/a", "x").test(null)).isFalse();
        assertThat(equals("/a", "x").test(com.fasterxml.jackson.databind.node.MissingNode.getInstance())).isFalse();
    }

    @Test
    void inPrefixAndPatternMatchTheText() throws Exception {
        ArgumentMatcher in = ArgumentMatcher.of(new ArgumentConstraint("/c", null, List.of("EUR", "USD"), null, null));
        assertThat(in.test(json("{\"c\": \"EUR\"}"))).isTrue();
        assertThat(in.test(json("{\"c\": \"GBP\"}"))).isFalse();
        ArgumentMatcher prefix = ArgumentMatcher.of(new ArgumentConstraint("/url", null, null, "https://api.example.com/",
                null));
        assertThat(prefix.test(json("{\"url\": \"https://api.example.com/v1\"}"))).isTrue();
        assertThat(prefix.test(json("{\"url\": \"https://api.example.com.evil/\"}"))).isFalse();
        ArgumentMatcher pattern = ArgumentMatcher.of(new ArgumentConstraint("/n", null, null, null, "[0-9]{1,3}"));
        assertThat(pattern.test(json("{\"n\": 999}"))).isTrue();
        assertThat(pattern.test(json("{\"n\": 1000}"))).as("a full match, not a find").isFalse();
        assertThat(pattern.test(json("{\"n\": \"12a\"}"))).isFalse();
    }

    @Test
    void rejectsInvalidConstraints() {
        assertThatThrownBy(() -> ArgumentMatcher.of(new ArgumentConstraint("/a", "x", null, "y", null)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("constraint: 2 of equals, in, prefix, pattern (expected: exactly one)");
        assertThatThrownBy(() -> ArgumentMatcher.of(new ArgumentConstraint("a", "x", null, null, null)))
                .hasMessageStartingWith("constraint.pointer: 'a'");
        assertThatThrownBy(() -> ArgumentMatcher.of(new ArgumentConstraint("/a", null, null, null, "(")))
                .hasMessageStartingWith("constraint.pattern: not a regular expression");
        assertThatThrownBy(() -> ArgumentMatcher.of(new ArgumentConstraint("/a", null, null, null, "a".repeat(257))))
                .hasMessageStartingWith("constraint.pattern: 257 characters");
    }

    @Test
    void catastrophicBacktrackingRunsOutOfBudgetAndFailsClosed() throws Exception {
        // (.*a){12} against a run of a's not ending in 'a' backtracks about n^12 steps without the budget
        // (java.util.regex memoizes simpler cases such as (a+)+b).
        ArgumentMatcher evil = ArgumentMatcher.of(new ArgumentConstraint("/s", null, null, null, EVIL));
        String input = "a".repeat(64) + "c";
        assertThat(evil.test(json("{\"s\": \"" + input + "\"}"))).isFalse();
        // the same pattern still matches what it should
        assertThat(evil.test(json("{\"s\": \"" + "xa".repeat(12) + "\"}"))).isTrue();
        // and the budget is what stopped it
        assertThatThrownBy(() -> Pattern.compile(EVIL).matcher(
                new ArgumentMatcher.BudgetedText(input, ArgumentMatcher.MAX_STEPS)).matches())
                .isInstanceOf(ArgumentMatcher.BudgetedText.BudgetExceeded.class);
    }

    @Test
    void budgetCountsCharacterReads() {
        ArgumentMatcher.BudgetedText t = new ArgumentMatcher.BudgetedText("abc", 2);
        assertThat(t.charAt(0)).isEqualTo('a');
        assertThat(t.subSequence(1, 3).charAt(0)).isEqualTo('b');
        assertThatThrownBy(() -> t.charAt(2)).isInstanceOf(ArgumentMatcher.BudgetedText.BudgetExceeded.class);
        assertThat(ArgumentMatcher.matches(Pattern.compile("abc"), "abc", 100)).isTrue();
        assertThat(ArgumentMatcher.matches(Pattern.compile("abc"), "abc", 1)).isFalse();
    }

    @Test
    void valuesLongerThanTheInputBoundFail() throws Exception {
        String longText = "a".repeat(ArgumentMatcher.MAX_INPUT_LENGTH + 1);
        assertThat(ArgumentMatcher.of(new ArgumentConstraint("/s", null, null, "a", null))
                .test(json("{\"s\": \"" + longText + "\"}"))).isFalse();
        assertThat(ArgumentMatcher.of(new ArgumentConstraint("/s", null, null, "a", null))
                .test(json("{\"s\": \"" + longText.substring(1) + "\"}"))).isTrue();
    }

    @Test
    void policyArgumentRulesUseTheSameMatching() throws Exception {
        Policy p = Policy.parse("""
                version: v1
                tools: {x: {}}
                rules:
                  - id: evil
                    arguments: {constraints: [{pointer: /s, pattern: "(.*a){12}"}]}
                """);
        TaskHistory h = new TaskHistory("t", 8);
        Instant now = Instant.parse("2026-11-22T10:00:00Z");
        Decision d = p.admit(h, List.of(new ToolCall("x", json("{\"s\": \"" + "a".repeat(64) + "c\"}"), now)), now);
        assertThat(d).isInstanceOfSatisfying(Decision.Denied.class,
                denied -> assertThat(denied.reason()).isEqualTo("argument_not_allowed"));
    }
}
