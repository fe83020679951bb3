package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import picocli.CommandLine;

import dev.tollgate.api.wire.Json;

/** {@code ctl policy test}: offline replay of recorded calls, no control plane needed. */
class PolicyTestCommandTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        List<String> all = new ArrayList<>(List.of("policy", "test"));
        all.addAll(List.of(args));
        return runCtl(all.toArray(new String[0]));
    }

    Path demoPolicy() {
        return Path.of("../../config/examples/policy-no-exfiltration.yaml").toAbsolutePath().normalize();
    }

    Path file(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    static final String CALLS = """
            {"task":"t1","tool":"web.post","arguments":{"url":"https://example.com"},"at":"2026-11-22T10:00:00Z"}
            {"task":"t1","tool":"crm.read_customer","arguments":{"id":"c-42"},"at":"2026-11-22T10:00:01Z","credential_issued_at":"2026-11-22T09:59:30Z"}

            {"task":"t1","tool":"web.post","arguments":{"url":"https://paste.example"},"at":"2026-11-22T10:00:05Z"}
            {"task":"t2","tool":"web.post","at":"2026-11-22T10:00:06Z"}
            {"task":"t2","tool":"shell.exec","at":"2026-11-22T10:00:07Z"}
            """;

    @Test
    void replaysCallsAndPrintsEachDecisionWithItsRuleAndEarlierCall() throws Exception {
        Result r = run(demoPolicy().toString(), file("calls.jsonl", CALLS).toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines.get(0)).startsWith("policy demo-1 (sha256:");
        assertThat(lines.get(1)).startsWith("LINE").contains("DECISION", "REASON", "RULE", "AFTER");
        assertThat(lines.get(2)).startsWith("1 ").contains("t1", "web.post", "allowed");
        assertThat(lines.get(3)).startsWith("2 ").contains("crm.read_customer", "allowed");
        assertThat(lines.get(4)).startsWith("4 ").contains("web.post", "denied", "transition_forbidden",
                "no-exfiltration", "crm.read_customer #1 at 2026-11-22T10:00:01Z");
        assertThat(lines.get(5)).startsWith("5 ").contains("t2", "allowed");
        assertThat(lines.get(6)).startsWith("6 ").contains("shell.exec", "denied", "unknown_tool", "unknown-tool");
        assertThat(lines.get(7)).isEqualTo("5 calls: 3 allowed, 2 denied, 0 dry-run hits");
    }

    @Test
    void printsOneJsonObjectPerCall() throws Exception {
        Result r = run("--output", "json", demoPolicy().toString(), file("calls.jsonl", CALLS).toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<JsonNode> out = r.out().lines().map(PolicyTestCommandTest::json).toList();
        assertThat(out).hasSize(5);
        JsonNode denied = out.get(2);
        assertThat(denied.get("line").asInt()).isEqualTo(4);
        assertThat(denied.get("decision").asText()).isEqualTo("denied");
        assertThat(denied.get("reason").asText()).isEqualTo("transition_forbidden");
        assertThat(denied.get("rule").asText()).isEqualTo("no-exfiltration");
        assertThat(denied.at("/after/tool").asText()).isEqualTo("crm.read_customer");
        assertThat(denied.at("/after/index").asInt()).isEqualTo(1);
        assertThat(out.get(0).get("decision").asText()).isEqualTo("allowed");
        assertThat(out.get(0).has("reason")).isFalse();
        // -o given on ctl itself works too
        Result viaCtl = runCtl("-o", "json", "policy", "test", demoPolicy().toString(), dir.resolve("calls.jsonl").toString());
        assertThat(viaCtl.out()).isEqualTo(r.out());
    }

    static Result runCtl(String... args) {
        List<String> all = new ArrayList<>(List.of("ctl"));
        all.addAll(List.of(args));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Tollgate.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Result(cl.execute(all.toArray(new String[0])), out.toString(), err.toString());
    }

    @Test
    void decidesABatchTogetherAndReportsDryRunHits() throws Exception {
        Path policy = file("policy.yaml", """
                version: b1
                tools:
                  crm.read_customer: {labels: [sensitive-read]}
                  web.post: {labels: [external-egress]}
                rules:
                  - id: no-exfiltration
                    transition: {after: {label: sensitive-read}, then: {label: external-egress}}
                  - id: watch-reads
                    limit: {select: {tool: crm.read_customer}, max-calls: 1}
                    mode: dry-run
                """);
        Path calls = file("calls.jsonl", """
                {"task":"t1","tool":"crm.read_customer","at":"2026-11-22T10:00:00Z","batch":"b"}
                {"task":"t1","tool":"web.post","at":"2026-11-22T10:00:00Z","batch":"b"}
                {"task":"t1","tool":"crm.read_customer","at":"2026-11-22T10:00:01Z"}
                {"task":"t1","tool":"crm.read_customer","at":"2026-11-22T10:00:02Z"}
                """);
        Result r = run("-o", "json", policy.toString(), calls.toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<JsonNode> out = r.out().lines().map(PolicyTestCommandTest::json).toList();
        assertThat(out).extracting(n -> n.get("decision").asText()).containsExactly("denied", "denied", "allowed",
                "allowed");
        assertThat(out.get(0).get("batch").asText()).isEqualTo("b");
        // the denied batch recorded nothing: the first read after it is the task's first
        assertThat(out.get(2).get("dry_run")).isEmpty();
        assertThat(out.get(3).at("/dry_run/0/rule").asText()).isEqualTo("watch-reads");
        assertThat(out.get(3).at("/dry_run/0/reason").asText()).isEqualTo("call_limit_exceeded");
    }

    @Test
    void aBadLineExitsWithStatus2AndNamesTheLine() throws Exception {
        Path calls = file("calls.jsonl", """
                {"task":"t1","tool":"web.post","at":"2026-11-22T10:00:00Z"}
                {"task":"t1","tool":"web.post","at":"yesterday"}
                """);
        Result r = run(demoPolicy().toString(), calls.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).contains("calls.jsonl:2: at: 'yesterday' (expected: an ISO-8601 instant");
        assertThat(run(demoPolicy().toString(), file("c2.jsonl", "{\"task\":\"t\"}\n").toString()).err())
                .contains("c2.jsonl:1: tool: missing");
        assertThat(run(demoPolicy().toString(), file("c3.jsonl", "not json\n").toString()).err())
                .contains("c3.jsonl:1: not a JSON object");
        assertThat(run(demoPolicy().toString(), file("c4.jsonl",
                "{\"task\":\"t\",\"tool\":\"x\",\"at\":\"2026-11-22T10:00:00Z\",\"extra\":1}\n").toString()).err())
                .contains("c4.jsonl:1: unknown field 'extra'");
    }

    @Test
    void aBadPolicyExitsWithStatus2AndListsItsProblems() throws Exception {
        Path policy = file("bad.yaml", "version: v1\ntools: {a: {}}\nrules: [{id: x, limit: {max-calls: 0}}]\n");
        Result r = run(policy.toString(), file("calls.jsonl", "").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("error: cannot use the policy:", "bad.yaml: rules[0].limit.max-calls: 0 (expected");
        Result missing = run(dir.resolve("nope.yaml").toString(), dir.resolve("calls.jsonl").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("nope.yaml: cannot be read (NoSuchFileException");
    }

    @Test
    void policyIsACommandGroupWithTest() {
        Result r = runCtl("policy");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("test", "Replay recorded tool calls");
    }

    private static JsonNode json(String s) {
        try {
            return Json.mapper().readTree(s);
        } catch (Exception e) {
            throw new AssertionError(s, e);
        }
    }
}
