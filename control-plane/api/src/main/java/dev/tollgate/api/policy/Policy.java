package dev.tollgate.api.policy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A compiled policy version: immutable and thread-safe. Compilation resolves every label to its tools and indexes the
 * rules by the tool they look at, so admitting a call is a map lookup and a walk over the few rules that concern that
 * tool, whatever the number of rules in the policy. See {@code docs/policy.md} for the language.
 */
public final class Policy {
    /** The rule id of a denial for a tool the policy does not list. */
    public static final String UNKNOWN_TOOL_RULE = "unknown-tool";
    /** The rule id of a denial when a task has called more distinct tools than its history tracks. */
    public static final String HISTORY_FULL_RULE = "task-history-full";
    /** Largest policy document accepted, in characters. */
    public static final int MAX_DOCUMENT_CHARS = PolicyLoader.MAX_DOCUMENT_CHARS;
    /** Most (tool, rule) pairs the compiled index may hold: the sum over rules of the tools each selects. */
    public static final int MAX_INDEX_ENTRIES = 1_000_000;

    private static final CompiledRule[] NO_RULES = new CompiledRule[0];

    private final String source;
    private final String digest;
    private final PolicyDocument document;
    private final Map<String, CompiledTool> tools;
    /** Rules that look at every call (no selector), in document order. */
    private final CompiledRule[] everyCall;

    private record CompiledTool(Set<String> labels, CompiledRule[] rules) {
    }

    private Policy(String source, PolicyDocument document) throws PolicyException {
        this.source = source;
        this.digest = digestOf(source);
        this.document = document;
        Map<String, Set<String>> toolsOf = new HashMap<>(); // label -> tools, one shared set per label
        document.tools().forEach((tool, labels) -> labels.forEach(l -> toolsOf.computeIfAbsent(l, k -> new HashSet<>())
                .add(tool)));
        toolsOf.replaceAll((label, tools) -> Set.copyOf(tools));
        long entries = 0;
        for (PolicyDocument.Rule r : document.rules()) {
            Set<String> subject = select(r.kind().subject(), toolsOf);
            entries += subject == null ? 0 : subject.size();
        }
        if (entries > MAX_INDEX_ENTRIES) {
            throw new PolicyException("rules: select " + entries + " (tool, rule) pairs in all (expected: <= "
                    + MAX_INDEX_ENTRIES + "; select by tool, or use fewer rules per label)");
        }
        Map<String, List<CompiledRule>> byTool = new HashMap<>();
        List<CompiledRule> all = new ArrayList<>();
        int order = 0;
        for (PolicyDocument.Rule r : document.rules()) {
            CompiledRule c = compile(r, order++, toolsOf);
            Set<String> subject = select(r.kind().subject(), toolsOf);
            if (subject == null) {
                all.add(c);
            } else {
                for (String t : subject) {
                    byTool.computeIfAbsent(t, k -> new ArrayList<>()).add(c);
                }
            }
        }
        Map<String, CompiledTool> compiled = new HashMap<>();
        document.tools().forEach((tool, labels) -> compiled.put(tool, new CompiledTool(labels,
                byTool.getOrDefault(tool, List.of()).toArray(NO_RULES))));
        this.tools = Map.copyOf(compiled);
        this.everyCall = all.toArray(NO_RULES);
    }

    /**
     * Validates and compiles a policy document.
     *
     * @throws PolicyException listing every problem, each naming its path
     */
    public static Policy parse(String yaml) throws PolicyException {
        return new Policy(yaml, PolicyLoader.load(yaml));
    }

    /**
     * Reads, validates and compiles a policy file (UTF-8).
     *
     * @throws PolicyException when the file cannot be read, is larger than {@value #MAX_DOCUMENT_CHARS} bytes or is
     *         not a valid policy; each problem is prefixed with the file name
     */
    public static Policy load(Path file) throws PolicyException {
        String text;
        try {
            long size = Files.size(file);
            if (size > MAX_DOCUMENT_CHARS) {
                throw new PolicyException(file + ": " + size + " bytes (expected: <= " + MAX_DOCUMENT_CHARS + ")");
            }
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException | UncheckedIOException e) {
            throw new PolicyException(file + ": cannot be read (" + e.getClass().getSimpleName() + ": " + e.getMessage()
                    + ")");
        }
        try {
            return parse(text);
        } catch (PolicyException e) {
            throw new PolicyException(e.problems().stream().map(p -> file + ": " + p).toList());
        }
    }

    /** The document's {@code version}. */
    public String version() {
        return document.version();
    }

    /** {@code sha256:<hex>} of the exact source text (UTF-8). */
    public String digest() {
        return digest;
    }

    /** The YAML text as given. */
    public String source() {
        return source;
    }

    /** Whether the tool is listed under {@code tools:}. */
    public boolean knows(String tool) {
        return tools.containsKey(tool);
    }

    /** The tool's labels, empty for a tool without labels or one the policy does not know. */
    public Set<String> labels(String tool) {
        CompiledTool t = tools.get(tool);
        return t == null ? Set.of() : t.labels();
    }

    /** The tools the policy lists, in document order. */
    public Set<String> tools() {
        return document.tools().keySet();
    }

    /** The number of rules. */
    public int ruleCount() {
        return document.rules().size();
    }

    PolicyDocument document() {
        return document;
    }

    /**
     * Evaluates a batch of calls against the task's history and, when every call is allowed, records them all; when
     * one is denied nothing is recorded. Each call is evaluated as if the earlier calls of the batch had already been
     * made. Atomic per task: concurrent admissions for one history are decided one after the other.
     */
    public Decision admit(TaskHistory history, List<ToolCall> calls, Instant now) {
        Objects.requireNonNull(history, "history");
        Objects.requireNonNull(calls, "calls");
        Objects.requireNonNull(now, "now");
        history.lock.lock();
        try {
            Sequence seq = new Sequence(history, now);
            List<DryRunHit> hits = new ArrayList<>(0);
            for (int index = 0; index < calls.size(); index++) {
                ToolCall call = calls.get(index);
                CompiledTool tool = tools.get(call.tool());
                if (tool == null) {
                    return denied(UNKNOWN_TOOL_RULE, DenialReason.UNKNOWN_TOOL, null, hits, index);
                }
                if (!seq.canTrack(call.tool())) {
                    return denied(HISTORY_FULL_RULE, DenialReason.CALL_LIMIT_EXCEEDED, null, hits, index);
                }
                CompiledRule[] own = tool.rules();
                int i = 0;
                int j = 0;
                while (i < own.length || j < everyCall.length) {
                    CompiledRule r = j >= everyCall.length || (i < own.length && own[i].order < everyCall[j].order)
                            ? own[i++] : everyCall[j++];
                    Violation v = r.check(call, seq, now);
                    if (v != null) {
                        if (r.dryRun) {
                            hits.add(new DryRunHit(r.id, v.reason().wire(), Optional.ofNullable(v.after())));
                        } else {
                            return denied(r.id, v.reason(), v.after(), hits, index);
                        }
                    }
                }
                seq.add(call.tool());
            }
            seq.commit();
            return new Decision.Allowed(hits);
        } finally {
            history.lock.unlock();
        }
    }

    private static Decision denied(String rule, DenialReason reason, EarlierCall after, List<DryRunHit> hits,
                                   int index) {
        return new Decision.Denied(rule, reason.wire(), Optional.ofNullable(after), hits, index);
    }

    @Override
    public String toString() {
        return "Policy[" + version() + ", " + digest + ", " + tools.size() + " tools, " + ruleCount() + " rules]";
    }

    // ---- compilation -----------------------------------------------------------------------------------------------

    /** The tools a selector names; null for every call. */
    private static Set<String> select(PolicyDocument.Selector s, Map<String, Set<String>> toolsOf) {
        if (s.all()) {
            return null;
        }
        if (s.tool() != null) {
            return Set.of(s.tool());
        }
        return toolsOf.getOrDefault(s.label(), Set.of());
    }

    private static CompiledRule compile(PolicyDocument.Rule r, int order, Map<String, Set<String>> toolsOf) {
        PolicyDocument.Kind k = r.kind();
        if (k instanceof PolicyDocument.Transition t) {
            return new Transition(r, order, select(t.after(), toolsOf), t.ever());
        }
        if (k instanceof PolicyDocument.StepUp s) {
            return new StepUp(r, order, s.maxCredentialAge());
        }
        if (k instanceof PolicyDocument.Limit l) {
            return new Limit(r, order, select(l.select(), toolsOf), l.maxCalls());
        }
        if (k instanceof PolicyDocument.Rate rate) {
            return new Rate(r, order, select(rate.select(), toolsOf), rate.max(), rate.per());
        }
        PolicyDocument.Arguments a = (PolicyDocument.Arguments) k;
        return new Arguments(r, order, a.constraints().stream().map(ArgumentMatcher::of).toArray(ArgumentMatcher[]::new));
    }

    private static String digestOf(String source) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(source.getBytes(StandardCharsets.UTF_8));
            return "sha256:" + HexFormat.of().formatHex(h);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    // ---- evaluation ------------------------------------------------------------------------------------------------

    private record Violation(DenialReason reason, EarlierCall after) {
    }

    private abstract static class CompiledRule {
        final String id;
        final boolean dryRun;
        final int order;

        CompiledRule(PolicyDocument.Rule r, int order) {
            this.id = r.id();
            this.dryRun = r.dryRun();
            this.order = order;
        }

        /** Null when the call passes, otherwise why not. */
        abstract Violation check(ToolCall call, Sequence seq, Instant now);
    }

    private static final class Transition extends CompiledRule {
        private final Set<String> after;
        private final boolean ever;

        Transition(PolicyDocument.Rule r, int order, Set<String> after, boolean ever) {
            super(r, order);
            this.after = after;
            this.ever = ever;
        }

        @Override
        Violation check(ToolCall call, Sequence seq, Instant now) {
            if (ever) {
                EarlierCall first = seq.firstOf(after);
                return first != null ? new Violation(DenialReason.TRANSITION_FORBIDDEN, first) : null;
            }
            String prev = seq.previousTool();
            return prev != null && after.contains(prev)
                    ? new Violation(DenialReason.TRANSITION_FORBIDDEN, seq.previous()) : null;
        }
    }

    private static final class StepUp extends CompiledRule {
        private final Duration maxAge;

        StepUp(PolicyDocument.Rule r, int order, Duration maxAge) {
            super(r, order);
            this.maxAge = maxAge;
        }

        @Override
        Violation check(ToolCall call, Sequence seq, Instant now) {
            Instant iat = call.credentialIssuedAt();
            return iat == null || iat.plus(maxAge).isBefore(now) ? new Violation(DenialReason.STEP_UP_REQUIRED, null) : null;
        }
    }

    private static final class Limit extends CompiledRule {
        private final Set<String> select;
        private final long max;

        Limit(PolicyDocument.Rule r, int order, Set<String> select, long max) {
            super(r, order);
            this.select = select;
            this.max = max;
        }

        @Override
        Violation check(ToolCall call, Sequence seq, Instant now) {
            return seq.count(select) >= max ? new Violation(DenialReason.CALL_LIMIT_EXCEEDED, null) : null;
        }
    }

    private static final class Rate extends CompiledRule {
        private final Set<String> select;
        private final int max;
        private final Duration per;

        Rate(PolicyDocument.Rule r, int order, Set<String> select, int max, Duration per) {
            super(r, order);
            this.select = select;
            this.max = max;
            this.per = per;
        }

        @Override
        Violation check(ToolCall call, Sequence seq, Instant now) {
            return seq.windowFull(select, max, now.minus(per)) ? new Violation(DenialReason.RATE_LIMITED, null) : null;
        }
    }

    private static final class Arguments extends CompiledRule {
        private final ArgumentMatcher[] matchers;

        Arguments(PolicyDocument.Rule r, int order, ArgumentMatcher[] matchers) {
            super(r, order);
            this.matchers = matchers;
        }

        @Override
        Violation check(ToolCall call, Sequence seq, Instant now) {
            for (ArgumentMatcher m : matchers) {
                if (!m.test(call.arguments())) {
                    return new Violation(DenialReason.ARGUMENT_NOT_ALLOWED, null);
                }
            }
            return null;
        }
    }

    /** A task's history followed by the calls of the batch admitted so far (all made at {@code now}). */
    private static final class Sequence {
        private final TaskHistory history;
        private final Instant now;
        private final List<String> pending = new ArrayList<>(1);

        Sequence(TaskHistory history, Instant now) {
            this.history = history;
            this.now = now;
        }

        void add(String tool) {
            pending.add(tool);
        }

        void commit() {
            for (String t : pending) {
                history.record(t, now);
            }
        }

        boolean canTrack(String tool) {
            if (history.tracks(tool) || pending.contains(tool)) {
                return true;
            }
            long fresh = pending.stream().distinct().filter(t -> !history.tracks(t)).count();
            return history.trackedTools() + fresh < TaskHistory.MAX_TRACKED_TOOLS;
        }

        String previousTool() {
            if (!pending.isEmpty()) {
                return pending.get(pending.size() - 1);
            }
            return history.retained() > 0 ? history.toolBack(0) : null;
        }

        EarlierCall previous() {
            if (!pending.isEmpty()) {
                return new EarlierCall(pending.get(pending.size() - 1), history.sizeLocked() + pending.size() - 1, now);
            }
            return history.retained() > 0 ? history.callBack(0) : null;
        }

        /** The earliest call of any of the tools, in history or in the batch. */
        EarlierCall firstOf(Set<String> tools) {
            EarlierCall first = null;
            Map<String, TaskHistory.ToolFacts> facts = history.facts();
            if (tools.size() <= facts.size()) {
                for (String t : tools) {
                    TaskHistory.ToolFacts f = facts.get(t);
                    if (f != null && (first == null || f.first.index() < first.index())) {
                        first = f.first;
                    }
                }
            } else {
                for (TaskHistory.ToolFacts f : facts.values()) {
                    if (tools.contains(f.first.tool()) && (first == null || f.first.index() < first.index())) {
                        first = f.first;
                    }
                }
            }
            if (first != null) {
                return first;
            }
            for (int i = 0; i < pending.size(); i++) {
                if (tools.contains(pending.get(i))) {
                    return new EarlierCall(pending.get(i), history.sizeLocked() + i, now);
                }
            }
            return null;
        }

        /** Calls of the tools (null: all calls) in the task so far. */
        long count(Set<String> tools) {
            if (tools == null) {
                return history.sizeLocked() + pending.size();
            }
            long n = 0;
            Map<String, TaskHistory.ToolFacts> facts = history.facts();
            if (tools.size() <= facts.size()) {
                for (String t : tools) {
                    TaskHistory.ToolFacts f = facts.get(t);
                    n += f == null ? 0 : f.count;
                }
            } else {
                for (Map.Entry<String, TaskHistory.ToolFacts> e : facts.entrySet()) {
                    n += tools.contains(e.getKey()) ? e.getValue().count : 0;
                }
            }
            for (String p : pending) {
                n += tools.contains(p) ? 1 : 0;
            }
            return n;
        }

        /**
         * Whether {@code max} calls of the tools (null: all) were made after {@code since}. Also true, failing closed,
         * when the window reaches back past the calls the history still holds in order.
         */
        boolean windowFull(Set<String> tools, int max, Instant since) {
            int n = 0;
            if (now.isAfter(since)) {
                for (String p : pending) {
                    if (tools == null || tools.contains(p)) {
                        n++;
                    }
                }
            }
            if (n >= max) {
                return true;
            }
            int retained = history.retained();
            for (int k = 0; k < retained; k++) {
                if (!history.timeBack(k).isAfter(since)) {
                    return false;
                }
                if ((tools == null || tools.contains(history.toolBack(k))) && ++n >= max) {
                    return true;
                }
            }
            Instant forgotten = history.newestForgotten();
            return forgotten != null && forgotten.isAfter(since);
        }
    }
}
