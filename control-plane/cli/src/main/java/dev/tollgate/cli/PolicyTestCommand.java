package dev.tollgate.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import dev.tollgate.api.policy.Decision;
import dev.tollgate.api.policy.DryRunHit;
import dev.tollgate.api.policy.EarlierCall;
import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.policy.PolicyException;
import dev.tollgate.api.policy.TaskHistory;
import dev.tollgate.api.policy.ToolCall;
import dev.tollgate.api.wire.Json;

/**
 * {@code ctl policy test <policy.yaml> <calls.jsonl>}: replays recorded tool calls against a policy, offline, and
 * prints every decision. Exit status 0 when the replay ran, whatever it decided; 2 on a bad policy or a bad line.
 */
@Command(name = "test", mixinStandardHelpOptions = true,
        description = {"Replay recorded tool calls against a policy, offline, and print each decision.",
                "One JSON object per line: {\"task\":\"t1\",\"tool\":\"crm.read_customer\",\"arguments\":{...},"
                        + "\"at\":\"2026-11-22T10:00:00Z\",\"credential_issued_at\":\"...\",\"batch\":\"b1\"} "
                        + "(arguments, credential_issued_at and batch optional; consecutive lines of one task with "
                        + "the same batch are decided together).",
                "Exit status: 0 when the replay ran, 2 on a bad policy or a bad line."})
final class PolicyTestCommand implements Callable<Integer> {
    /** Largest calls file read. */
    static final long MAX_FILE_BYTES = 256L * 1024 * 1024;
    static final int MAX_LINE_CHARS = 1024 * 1024;
    static final int MAX_CALLS = 1_000_000;
    static final int MAX_TASKS = 100_000;
    private static final Set<String> FIELDS = Set.of("task", "tool", "arguments", "at", "credential_issued_at", "batch");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "POLICY", description = "the policy document (YAML)")
    Path policyFile;

    @Parameters(index = "1", paramLabel = "CALLS", description = "the recorded calls, one JSON object per line (JSON Lines)")
    Path callsFile;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT",
            description = "table (for people) or json (one JSON object per call, for scripts); default: table")
    CtlOptions.Output output;

    @Option(names = "--max-calls", paramLabel = "N", defaultValue = "" + TaskHistory.DEFAULT_MAX_CALLS,
            description = "calls each task's history keeps in order, as the sidecar's; default: ${DEFAULT-VALUE}")
    int maxCalls;

    /** One line of the calls file. */
    record Recorded(int line, String task, String batch, ToolCall call, Instant at) {
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            if (maxCalls < 1 || maxCalls > TaskHistory.MAX_MAX_CALLS) {
                throw new CtlException("--max-calls: " + maxCalls + " (expected: 1 to " + TaskHistory.MAX_MAX_CALLS + ")");
            }
            Policy policy = loadPolicy(policyFile);
            List<Recorded> calls = readCalls(callsFile);
            replay(policy, calls, format() == CtlOptions.Output.JSON, out);
            out.flush();
            return 0;
        } catch (CtlException e) {
            err.println("error: " + e.getMessage());
            err.flush();
            return 2;
        }
    }

    private CtlOptions.Output format() {
        if (output != null) {
            return output;
        }
        for (CommandLine.Model.CommandSpec s = spec; s != null; s = s.parent()) {
            if (s.userObject() instanceof CtlCommand ctl && ctl.opts != null && ctl.opts.output != null) {
                return ctl.opts.output;
            }
        }
        return CtlOptions.Output.TABLE;
    }

    static Policy loadPolicy(Path file) {
        try {
            return Policy.load(file);
        } catch (PolicyException e) {
            throw new CtlException("cannot use the policy:\n  " + String.join("\n  ", e.problems()));
        }
    }

    static List<Recorded> readCalls(Path file) {
        List<Recorded> calls = new ArrayList<>();
        try {
            if (Files.size(file) > MAX_FILE_BYTES) {
                throw new CtlException(file + ": " + Files.size(file) + " bytes (expected: <= " + MAX_FILE_BYTES + ")");
            }
            try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                String line;
                int n = 0;
                while ((line = r.readLine()) != null) {
                    n++;
                    if (line.isBlank()) {
                        continue;
                    }
                    if (calls.size() == MAX_CALLS) {
                        throw new CtlException(file + ":" + n + ": more than " + MAX_CALLS + " calls");
                    }
                    calls.add(parseLine(file, n, line));
                }
            }
        } catch (IOException e) {
            throw new CtlException("cannot read " + file + " (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
        return calls;
    }

    static Recorded parseLine(Path file, int n, String line) {
        String where = file + ":" + n + ": ";
        if (line.length() > MAX_LINE_CHARS) {
            throw new CtlException(where + line.length() + " characters (expected: <= " + MAX_LINE_CHARS + ")");
        }
        JsonNode node;
        try {
            node = Json.mapper().readTree(line);
        } catch (JsonProcessingException e) {
            throw new CtlException(where + "not a JSON object (" + e.getOriginalMessage() + ")");
        }
        if (node == null || !node.isObject()) {
            throw new CtlException(where + "not a JSON object (expected: {\"task\": ..., \"tool\": ..., \"at\": ...})");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!FIELDS.contains(f)) {
                throw new CtlException(where + "unknown field '" + f + "' (expected: "
                        + FIELDS.stream().sorted().collect(Collectors.joining(", ")) + ")");
            }
        }
        String task = text(node, "task", where, true);
        String tool = text(node, "tool", where, true);
        Instant at = instant(node, "at", where, true);
        Instant iat = instant(node, "credential_issued_at", where, false);
        JsonNode batch = node.path("batch");
        String batchId = null;
        if (!batch.isMissingNode() && !batch.isNull()) {
            if (!batch.isTextual() && !batch.isIntegralNumber()) {
                throw new CtlException(where + "batch: " + batch + " (expected: text or a whole number)");
            }
            batchId = batch.asText();
        }
        JsonNode args = node.get("arguments");
        return new Recorded(n, task, batchId, new ToolCall(tool, args, iat), at);
    }

    private static String text(JsonNode node, String field, String where, boolean required) {
        JsonNode v = node.path(field);
        if (v.isMissingNode() || v.isNull()) {
            if (required) {
                throw new CtlException(where + field + ": missing");
            }
            return null;
        }
        if (!v.isTextual() || v.textValue().isEmpty()) {
            throw new CtlException(where + field + ": " + v + " (expected: non-empty text)");
        }
        return v.textValue();
    }

    private static Instant instant(JsonNode node, String field, String where, boolean required) {
        String s = text(node, field, where, required);
        if (s == null) {
            return null;
        }
        try {
            return Instant.parse(s);
        } catch (DateTimeParseException e) {
            throw new CtlException(where + field + ": '" + s + "' (expected: an ISO-8601 instant like 2026-11-22T10:00:00Z)");
        }
    }

    void replay(Policy policy, List<Recorded> calls, boolean json, PrintWriter out) {
        Map<String, TaskHistory> histories = new HashMap<>();
        Table table = new Table("LINE", "TASK", "TOOL", "AT", "DECISION", "REASON", "RULE", "AFTER", "DRY-RUN");
        int allowed = 0;
        int denied = 0;
        int hits = 0;
        for (int i = 0; i < calls.size();) {
            Recorded first = calls.get(i);
            int end = i + 1;
            while (first.batch() != null && end < calls.size() && first.task().equals(calls.get(end).task())
                    && first.batch().equals(calls.get(end).batch())) {
                end++;
            }
            List<Recorded> batch = calls.subList(i, end);
            if (!histories.containsKey(first.task()) && histories.size() == MAX_TASKS) {
                throw new CtlException(callsFile + ":" + first.line() + ": more than " + MAX_TASKS + " tasks");
            }
            TaskHistory history = histories.computeIfAbsent(first.task(), t -> new TaskHistory(t, maxCalls));
            Decision d = policy.admit(history, batch.stream().map(Recorded::call).toList(), first.at());
            hits += d.dryRun().size();
            for (Recorded r : batch) {
                if (d.allowed()) {
                    allowed++;
                } else {
                    denied++;
                }
                if (json) {
                    out.println(json(r, batch.size() > 1, d));
                } else {
                    Decision.Denied no = d instanceof Decision.Denied x ? x : null;
                    table.row(String.valueOf(r.line()), r.task(), r.call().tool(), r.at().toString(),
                            (d.allowed() ? "allowed" : "denied") + (batch.size() > 1 ? " (batch)" : ""),
                            no == null ? "" : no.reason(), no == null ? "" : no.ruleId(),
                            no == null ? "" : no.after().map(PolicyTestCommand::describe).orElse(""),
                            d.dryRun().stream().map(h -> h.ruleId() + ": " + h.reason()
                                    + h.after().map(a -> " after " + describe(a)).orElse(""))
                                    .collect(Collectors.joining("; ")));
                }
            }
            i = end;
        }
        if (!json) {
            out.println("policy " + policy.version() + " (" + policy.digest() + ")");
            table.print(out);
            out.println(calls.size() + " calls: " + allowed + " allowed, " + denied + " denied, " + hits
                    + " dry-run hits");
        }
    }

    private static String describe(EarlierCall a) {
        return a.tool() + " #" + a.index() + " at " + a.at();
    }

    private static String json(Recorded r, boolean inBatch, Decision d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("line", r.line());
        m.put("task", r.task());
        m.put("tool", r.call().tool());
        m.put("at", r.at().toString());
        if (inBatch) {
            m.put("batch", r.batch());
        }
        m.put("decision", d.allowed() ? "allowed" : "denied");
        if (d instanceof Decision.Denied no) {
            m.put("reason", no.reason());
            m.put("rule", no.ruleId());
            no.after().ifPresent(a -> m.put("after", after(a)));
        }
        List<Map<String, Object>> dry = new ArrayList<>();
        for (DryRunHit h : d.dryRun()) {
            Map<String, Object> hm = new LinkedHashMap<>();
            hm.put("rule", h.ruleId());
            hm.put("reason", h.reason());
            h.after().ifPresent(a -> hm.put("after", after(a)));
            dry.add(hm);
        }
        m.put("dry_run", dry);
        try {
            return Json.mapper().writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> after(EarlierCall a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tool", a.tool());
        m.put("index", a.index());
        m.put("at", a.at().toString());
        return m;
    }
}
