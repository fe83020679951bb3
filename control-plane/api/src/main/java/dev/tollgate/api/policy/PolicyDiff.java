package dev.tollgate.api.policy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What changes from one policy version to another, for a reviewer: the version and digest, then tools and rules
 * added, removed or changed (old → new), tools in the new document's order, rules by id.
 */
public final class PolicyDiff {
    private final List<String> lines;
    private final boolean empty;

    private PolicyDiff(List<String> lines, boolean empty) {
        this.lines = List.copyOf(lines);
        this.empty = empty;
    }

    public static PolicyDiff between(Policy a, Policy b) {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        List<String> out = new ArrayList<>();
        out.add("version: " + (a.version().equals(b.version()) ? a.version() : a.version() + " → " + b.version())
                + " (" + (a.digest().equals(b.digest()) ? a.digest() : a.digest() + " → " + b.digest()) + ")");
        int header = out.size();

        Map<String, Set<String>> oldTools = a.document().tools();
        Map<String, Set<String>> newTools = b.document().tools();
        for (Map.Entry<String, Set<String>> e : oldTools.entrySet()) {
            if (!newTools.containsKey(e.getKey())) {
                out.add("tool " + e.getKey() + ": removed (labels " + e.getValue() + ")");
            }
        }
        for (Map.Entry<String, Set<String>> e : newTools.entrySet()) {
            Set<String> old = oldTools.get(e.getKey());
            if (old == null) {
                out.add("tool " + e.getKey() + ": added (labels " + e.getValue() + ")");
            } else if (!old.equals(e.getValue())) {
                out.add("tool " + e.getKey() + ": labels " + old + " → " + e.getValue());
            }
        }

        Map<String, PolicyDocument.Rule> oldRules = byId(a);
        Map<String, PolicyDocument.Rule> newRules = byId(b);
        for (PolicyDocument.Rule r : oldRules.values()) {
            if (!newRules.containsKey(r.id())) {
                out.add("rule " + r.id() + ": removed (" + r.describe() + ")");
            }
        }
        for (PolicyDocument.Rule r : newRules.values()) {
            PolicyDocument.Rule old = oldRules.get(r.id());
            if (old == null) {
                out.add("rule " + r.id() + ": added (" + r.describe() + ")");
            } else if (!old.equals(r)) {
                out.add("rule " + r.id() + ": changed (" + old.describe() + " → " + r.describe() + ")");
            }
        }
        boolean empty = out.size() == header;
        if (empty) {
            out.add("no changes to tools or rules");
        }
        return new PolicyDiff(out, empty);
    }

    private static Map<String, PolicyDocument.Rule> byId(Policy p) {
        Map<String, PolicyDocument.Rule> m = new LinkedHashMap<>();
        for (PolicyDocument.Rule r : p.document().rules()) {
            m.put(r.id(), r);
        }
        return m;
    }

    /** The diff, one change per line, the version and digest line first. */
    public List<String> lines() {
        return lines;
    }

    /** Whether the two versions have the same tools and rules (their text may still differ). */
    public boolean isEmpty() {
        return empty;
    }

    @Override
    public String toString() {
        return String.join("\n", lines);
    }
}
