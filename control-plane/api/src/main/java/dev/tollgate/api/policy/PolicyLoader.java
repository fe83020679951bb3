package dev.tollgate.api.policy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import org.yaml.snakeyaml.LoaderOptions;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;

import dev.tollgate.api.token.ArgumentConstraint;
import dev.tollgate.api.token.ToolGrant;

/**
 * Reads a policy document: YAML without anchors, aliases, tags or duplicate keys, within size, depth and count bounds,
 * into a {@link PolicyDocument}. Every problem is collected, each naming its path, and reported at once.
 */
final class PolicyLoader {
    /** Largest policy document accepted, in characters. */
    static final int MAX_DOCUMENT_CHARS = 1024 * 1024;
    static final int MAX_DEPTH = 16;
    static final int MAX_NODES = 200_000;
    static final int MAX_TOOLS = 4096;
    static final int MAX_RULES = 4096;
    static final int MAX_LABELS_PER_TOOL = 16;
    static final int MAX_LABELS = 1024;
    static final int MAX_CONSTRAINTS = ToolGrant.MAX_CONSTRAINTS;
    static final long MAX_CALLS = 1_000_000_000L;
    static final int MAX_RATE = 10_000;
    static final Duration MAX_DURATION = Duration.ofDays(1);
    static final int MAX_PROBLEMS = 100;

    static final Pattern VERSION = Pattern.compile("[A-Za-z0-9._:-]{1,64}");
    static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,63}");
    /** Rule ids the evaluator uses itself. */
    static final Set<String> RESERVED_IDS = Set.of(Policy.UNKNOWN_TOOL_RULE, Policy.HISTORY_FULL_RULE);

    /** Every key the loader accepts, by the kind of mapping it appears in (the reference policy must show them all). */
    static final Map<String, Set<String>> KEYS = keys();

    private static Map<String, Set<String>> keys() {
        Map<String, Set<String>> k = new LinkedHashMap<>();
        k.put("policy", Set.of("version", "tools", "rules"));
        k.put("tool", Set.of("labels"));
        k.put("rule", Set.of("id", "mode", "transition", "step-up", "limit", "rate", "arguments"));
        k.put("transition", Set.of("after", "then", "within"));
        k.put("selector", Set.of("tool", "label"));
        k.put("step-up", Set.of("select", "max-credential-age"));
        k.put("limit", Set.of("select", "max-calls"));
        k.put("rate", Set.of("select", "max", "per"));
        k.put("arguments", Set.of("select", "constraints"));
        k.put("constraint", Set.of("pointer", "equals", "in", "prefix", "pattern"));
        return Collections.unmodifiableMap(k);
    }

    private static final List<String> KINDS = List.of("transition", "step-up", "limit", "rate", "arguments");

    private final List<String> problems = new ArrayList<>();
    private Map<String, Set<String>> tools = Map.of();
    private Set<String> labels = Set.of();

    private PolicyLoader() {
    }

    static PolicyDocument load(String yaml) throws PolicyException {
        if (yaml == null) {
            throw new PolicyException("policy: missing");
        }
        if (yaml.length() > MAX_DOCUMENT_CHARS) {
            throw new PolicyException("policy: " + yaml.length() + " characters (expected: <= " + MAX_DOCUMENT_CHARS
                    + ")");
        }
        JsonNode root = YamlTree.read(yaml);
        PolicyLoader loader = new PolicyLoader();
        PolicyDocument doc = loader.document(root);
        if (!loader.problems.isEmpty()) {
            throw new PolicyException(loader.problems);
        }
        return doc;
    }

    // ---- structure -------------------------------------------------------------------------------------------------

    private PolicyDocument document(JsonNode root) {
        if (!root.isObject()) {
            problem("policy: " + describe(root) + " (expected: a mapping with version, tools and rules)");
            return null;
        }
        knownKeys(root, "", "policy");
        String version = null;
        JsonNode v = root.path("version");
        if (v.isMissingNode()) {
            problem("version: missing (expected: text like \"2026-11-22.1\")");
        } else if (!v.isTextual() || !VERSION.matcher(v.textValue()).matches()) {
            problem("version: " + describe(v) + " (expected: 1 to 64 characters of A-Z a-z 0-9 . _ : -)");
        } else {
            version = v.textValue();
        }
        tools = tools(root.path("tools"));
        Set<String> allLabels = new HashSet<>();
        tools.values().forEach(allLabels::addAll);
        labels = allLabels;
        if (allLabels.size() > MAX_LABELS) {
            problem("tools: " + allLabels.size() + " distinct labels (expected: <= " + MAX_LABELS + ")");
        }
        List<PolicyDocument.Rule> rules = rules(root.path("rules"));
        return new PolicyDocument(version, tools, rules);
    }

    private Map<String, Set<String>> tools(JsonNode n) {
        Map<String, Set<String>> out = new LinkedHashMap<>();
        if (n.isMissingNode()) {
            problem("tools: missing (expected: a mapping of tool name to {labels: [...]}; unlisted tools are denied)");
            return out;
        }
        if (!n.isObject()) {
            problem("tools: " + describe(n) + " (expected: a mapping of tool name to {labels: [...]})");
            return out;
        }
        if (n.size() > MAX_TOOLS) {
            problem("tools: " + n.size() + " tools (expected: <= " + MAX_TOOLS + ")");
            return out;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            String path = "tools." + name;
            if (!ToolGrant.TOOL_NAME.matcher(name).matches()) {
                problem("tools: '" + shorten(name) + "' (expected: a tool name " + ToolGrant.TOOL_NAME.pattern() + ")");
                continue;
            }
            JsonNode t = e.getValue();
            Set<String> toolLabels = new LinkedHashSet<>();
            if (t.isNull()) {
                out.put(name, Set.of());
                continue;
            }
            if (!t.isObject()) {
                problem(path + ": " + describe(t) + " (expected: a mapping like {labels: [sensitive-read]})");
                continue;
            }
            knownKeys(t, path + ".", "tool");
            JsonNode ls = t.path("labels");
            if (!ls.isMissingNode()) {
                if (!ls.isArray()) {
                    problem(path + ".labels: " + describe(ls) + " (expected: a list of labels)");
                } else if (ls.size() > MAX_LABELS_PER_TOOL) {
                    problem(path + ".labels: " + ls.size() + " labels (expected: <= " + MAX_LABELS_PER_TOOL + ")");
                } else {
                    for (int i = 0; i < ls.size(); i++) {
                        String l = name(ls.get(i), path + ".labels[" + i + "]", "a label");
                        if (l != null && !toolLabels.add(l)) {
                            problem(path + ".labels[" + i + "]: '" + l + "' appears twice");
                        }
                    }
                }
            }
            out.put(name, Collections.unmodifiableSet(toolLabels));
        }
        return Collections.unmodifiableMap(out);
    }

    private List<PolicyDocument.Rule> rules(JsonNode n) {
        List<PolicyDocument.Rule> out = new ArrayList<>();
        if (n.isMissingNode() || n.isNull()) {
            return out;
        }
        if (!n.isArray()) {
            problem("rules: " + describe(n) + " (expected: a list of rules)");
            return out;
        }
        if (n.size() > MAX_RULES) {
            problem("rules: " + n.size() + " rules (expected: <= " + MAX_RULES + ")");
            return out;
        }
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < n.size(); i++) {
            String path = "rules[" + i + "]";
            PolicyDocument.Rule r = rule(n.get(i), path);
            if (r != null) {
                if (!ids.add(r.id())) {
                    problem(path + ".id: '" + r.id() + "' is used by an earlier rule (expected: unique ids)");
                } else {
                    out.add(r);
                }
            }
        }
        return Collections.unmodifiableList(out);
    }

    private PolicyDocument.Rule rule(JsonNode n, String path) {
        if (!n.isObject()) {
            problem(path + ": " + describe(n) + " (expected: a mapping with id and one of " + String.join(", ", KINDS)
                    + ")");
            return null;
        }
        knownKeys(n, path + ".", "rule");
        String id = null;
        JsonNode idNode = n.path("id");
        if (idNode.isMissingNode()) {
            problem(path + ".id: missing (expected: " + NAME.pattern() + ")");
        } else {
            id = name(idNode, path + ".id", "a rule id");
            if (id != null && RESERVED_IDS.contains(id)) {
                problem(path + ".id: '" + id + "' is reserved (expected: another id)");
                id = null;
            }
        }
        boolean dryRun = false;
        JsonNode mode = n.path("mode");
        if (!mode.isMissingNode()) {
            if (mode.isTextual() && mode.textValue().equals("dry-run")) {
                dryRun = true;
            } else if (!(mode.isTextual() && mode.textValue().equals("enforce"))) {
                problem(path + ".mode: " + describe(mode) + " (expected: enforce or dry-run)");
            }
        }
        List<String> given = new ArrayList<>();
        for (String k : KINDS) {
            if (n.has(k)) {
                given.add(k);
            }
        }
        if (given.size() != 1) {
            problem(path + ": " + (given.isEmpty() ? "no kind" : String.join(", ", given)) + " (expected: exactly one of "
                    + String.join(", ", KINDS) + ")");
            return null;
        }
        String kind = given.get(0);
        JsonNode body = n.get(kind);
        String bodyPath = path + "." + kind;
        if (!body.isObject()) {
            problem(bodyPath + ": " + describe(body) + " (expected: a mapping)");
            return null;
        }
        knownKeys(body, bodyPath + ".", kind);
        int before = problems.size();
        PolicyDocument.Kind k = switch (kind) {
            case "transition" -> transition(body, bodyPath);
            case "step-up" -> new PolicyDocument.StepUp(optionalSelector(body, bodyPath),
                    duration(body.path("max-credential-age"), bodyPath + ".max-credential-age"));
            case "limit" -> new PolicyDocument.Limit(optionalSelector(body, bodyPath),
                    integer(body.path("max-calls"), bodyPath + ".max-calls", MAX_CALLS));
            case "rate" -> new PolicyDocument.Rate(optionalSelector(body, bodyPath),
                    (int) integer(body.path("max"), bodyPath + ".max", MAX_RATE), duration(body.path("per"), bodyPath + ".per"));
            default -> arguments(body, bodyPath);
        };
        if (id == null || problems.size() > before) {
            return null;
        }
        return new PolicyDocument.Rule(id, dryRun, k);
    }

    private PolicyDocument.Transition transition(JsonNode n, String path) {
        PolicyDocument.Selector after = requiredSelector(n.path("after"), path + ".after");
        PolicyDocument.Selector then = requiredSelector(n.path("then"), path + ".then");
        boolean ever = true;
        JsonNode w = n.path("within");
        if (!w.isMissingNode()) {
            if (w.isTextual() && w.textValue().equals("next")) {
                ever = false;
            } else if (!(w.isTextual() && w.textValue().equals("ever"))) {
                problem(path + ".within: " + describe(w) + " (expected: ever or next)");
            }
        }
        return new PolicyDocument.Transition(after, then, ever);
    }

    private PolicyDocument.Arguments arguments(JsonNode n, String path) {
        PolicyDocument.Selector select = optionalSelector(n, path);
        List<ArgumentConstraint> out = new ArrayList<>();
        JsonNode cs = n.path("constraints");
        if (cs.isMissingNode()) {
            problem(path + ".constraints: missing (expected: a list of {pointer, equals|in|prefix|pattern})");
        } else if (!cs.isArray() || cs.isEmpty()) {
            problem(path + ".constraints: " + describe(cs) + " (expected: a non-empty list of constraints)");
        } else if (cs.size() > MAX_CONSTRAINTS) {
            problem(path + ".constraints: " + cs.size() + " constraints (expected: <= " + MAX_CONSTRAINTS + ")");
        } else {
            for (int i = 0; i < cs.size(); i++) {
                ArgumentConstraint c = constraint(cs.get(i), path + ".constraints[" + i + "]");
                if (c != null) {
                    out.add(c);
                }
            }
        }
        return new PolicyDocument.Arguments(select, List.copyOf(out));
    }

    private ArgumentConstraint constraint(JsonNode n, String path) {
        if (!n.isObject()) {
            problem(path + ": " + describe(n) + " (expected: a mapping like {pointer: /amount, equals: \"10\"})");
            return null;
        }
        knownKeys(n, path + ".", "constraint");
        int before = problems.size();
        String pointer = null;
        JsonNode p = n.path("pointer");
        if (p.isMissingNode()) {
            problem(path + ".pointer: missing (expected: a JSON Pointer like /path/0)");
        } else {
            pointer = text(p, path + ".pointer", "a JSON Pointer like /path/0");
        }
        String equals = optionalText(n.path("equals"), path + ".equals");
        String prefix = optionalText(n.path("prefix"), path + ".prefix");
        String pattern = optionalText(n.path("pattern"), path + ".pattern");
        List<String> in = null;
        JsonNode inNode = n.path("in");
        if (!inNode.isMissingNode()) {
            if (!inNode.isArray()) {
                problem(path + ".in: " + describe(inNode) + " (expected: a list of values)");
            } else if (inNode.size() > ArgumentConstraint.MAX_IN_VALUES) {
                problem(path + ".in: " + inNode.size() + " values (expected: 1 to " + ArgumentConstraint.MAX_IN_VALUES + ")");
            } else {
                in = new ArrayList<>();
                for (int i = 0; i < inNode.size(); i++) {
                    String v = scalarText(inNode.get(i), path + ".in[" + i + "]");
                    if (v != null) {
                        in.add(v);
                    }
                }
            }
        }
        if (problems.size() > before || pointer == null) {
            return null;
        }
        ArgumentConstraint c = new ArgumentConstraint(pointer, equals, in, prefix, pattern);
        String problem = ArgumentMatcher.problem(c);
        if (problem != null) {
            problem(path + problem.substring("constraint".length()));
            return null;
        }
        return c;
    }

    // ---- selectors -------------------------------------------------------------------------------------------------

    private PolicyDocument.Selector optionalSelector(JsonNode body, String path) {
        JsonNode s = body.path("select");
        if (s.isMissingNode()) {
            return PolicyDocument.Selector.ALL;
        }
        return requiredSelector(s, path + ".select");
    }

    private PolicyDocument.Selector requiredSelector(JsonNode n, String path) {
        if (n.isMissingNode()) {
            problem(path + ": missing (expected: {tool: name} or {label: name})");
            return PolicyDocument.Selector.ALL;
        }
        if (!n.isObject()) {
            problem(path + ": " + describe(n) + " (expected: {tool: name} or {label: name})");
            return PolicyDocument.Selector.ALL;
        }
        knownKeys(n, path + ".", "selector");
        if (n.has("tool") == n.has("label")) {
            problem(path + ": " + (n.has("tool") ? "both tool and label" : "neither tool nor label")
                    + " (expected: exactly one of {tool: name} or {label: name})");
            return PolicyDocument.Selector.ALL;
        }
        if (n.has("tool")) {
            String tool = text(n.get("tool"), path + ".tool", "a tool name");
            if (tool != null && !tools.containsKey(tool)) {
                problem(path + ".tool: '" + shorten(tool) + "' is not listed under tools (expected: a listed tool)");
            }
            return new PolicyDocument.Selector(tool, null);
        }
        String label = name(n.get("label"), path + ".label", "a label");
        if (label != null && !labels.contains(label)) {
            problem(path + ".label: '" + label + "' is carried by no tool (expected: a label listed under tools)");
        }
        return new PolicyDocument.Selector(null, label);
    }

    // ---- scalars ---------------------------------------------------------------------------------------------------

    private Duration duration(JsonNode n, String path) {
        String expected = "a duration like 500ms, 30s, 5m or 1h, above 0 and at most 24h";
        if (n.isMissingNode()) {
            problem(path + ": missing (expected: " + expected + ")");
            return null;
        }
        Duration d = n.isTextual() ? Durations.parse(n.textValue()) : null;
        if (d == null || d.isZero() || d.compareTo(MAX_DURATION) > 0) {
            problem(path + ": " + describe(n) + " (expected: " + expected + ")");
            return null;
        }
        return d;
    }

    private long integer(JsonNode n, String path, long max) {
        if (n.isMissingNode()) {
            problem(path + ": missing (expected: a whole number from 1 to " + max + ")");
            return 0;
        }
        if (!n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < 1 || n.longValue() > max) {
            problem(path + ": " + describe(n) + " (expected: a whole number from 1 to " + max + ")");
            return 0;
        }
        return n.longValue();
    }

    private String name(JsonNode n, String path, String what) {
        if (!n.isTextual() || !NAME.matcher(n.textValue()).matches()) {
            problem(path + ": " + describe(n) + " (expected: " + what + ", " + NAME.pattern() + ")");
            return null;
        }
        return n.textValue();
    }

    private String text(JsonNode n, String path, String expected) {
        if (!n.isTextual()) {
            problem(path + ": " + describe(n) + " (expected: " + expected + ")");
            return null;
        }
        return n.textValue();
    }

    private String optionalText(JsonNode n, String path) {
        return n.isMissingNode() ? null : scalarText(n, path);
    }

    /** A value to compare arguments with: text, or a number or boolean taken as its JSON text. */
    private String scalarText(JsonNode n, String path) {
        if (n.isTextual()) {
            return n.textValue();
        }
        if (n.isNumber() || n.isBoolean()) {
            return n.asText();
        }
        problem(path + ": " + describe(n) + " (expected: text, a number or a boolean)");
        return null;
    }

    private void knownKeys(JsonNode n, String prefix, String context) {
        Set<String> known = KEYS.get(context);
        for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String k = it.next();
            if (!known.contains(k)) {
                problem(prefix + shorten(k) + ": unknown key (expected: one of " + String.join(", ", new java.util.TreeSet<>(known))
                        + ")");
            }
        }
    }

    private void problem(String p) {
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(p);
        } else if (problems.size() == MAX_PROBLEMS) {
            problems.add("... more problems not shown");
        }
    }

    static String describe(JsonNode n) {
        if (n.isMissingNode()) {
            return "missing";
        }
        if (n.isNull()) {
            return "null";
        }
        if (n.isObject()) {
            return "a mapping";
        }
        if (n.isArray()) {
            return n.isEmpty() ? "an empty list" : "a list";
        }
        if (n.isTextual()) {
            return "'" + shorten(n.textValue()) + "'";
        }
        return shorten(n.toString());
    }

    static String shorten(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 64; i++) {
            char c = s.charAt(i);
            b.append(Character.isISOControl(c) ? '?' : c);
        }
        return s.length() > 64 ? b + "..." : b.toString();
    }

    /** Builds a JSON tree from YAML events, refusing what a policy never needs and an attacker could abuse. */
    static final class YamlTree {
        private static final YAMLFactory FACTORY = factory();

        private final YAMLParser parser;
        private int nodes;

        private YamlTree(YAMLParser parser) {
            this.parser = parser;
        }

        private static YAMLFactory factory() {
            LoaderOptions options = new LoaderOptions();
            options.setCodePointLimit(MAX_DOCUMENT_CHARS * 4 + 1024);
            options.setMaxAliasesForCollections(0);
            options.setNestingDepthLimit(MAX_DEPTH + 4);
            return YAMLFactory.builder()
                    .loaderOptions(options)
                    .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)
                    .enable(YAMLParser.Feature.PARSE_BOOLEAN_LIKE_WORDS_AS_STRINGS)
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH)
                            .maxNumberLength(32).maxStringLength(MAX_DOCUMENT_CHARS).build())
                    .build();
        }

        static JsonNode read(String yaml) throws PolicyException {
            try (YAMLParser p = FACTORY.createParser(yaml)) {
                YamlTree tree = new YamlTree(p);
                JsonToken t = p.nextToken();
                if (t == null) {
                    throw new PolicyException("policy: empty document (expected: a mapping with version, tools and rules)");
                }
                JsonNode root = tree.value(t, 0);
                if (p.nextToken() != null) {
                    throw new PolicyException("policy: more than one YAML document (expected: exactly one)");
                }
                return root;
            } catch (PolicyException e) {
                throw e;
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                JsonLocation at = e.getLocation();
                throw new PolicyException("policy: " + (at != null && at.getLineNr() > 0 ? "line " + at.getLineNr() + ": " : "")
                        + "not valid YAML (" + firstLine(e.getOriginalMessage()) + ")");
            } catch (IOException | RuntimeException e) {
                // The YAML library reports some malformed input with its own runtime exceptions.
                throw new PolicyException("policy: not valid YAML (" + firstLine(e.getMessage()) + ")");
            } catch (StackOverflowError e) {
                throw new PolicyException("policy: nested too deeply");
            }
        }

        private JsonNode value(JsonToken t, int depth) throws IOException, PolicyException {
            if (++nodes > MAX_NODES) {
                throw fail("more than " + MAX_NODES + " YAML nodes");
            }
            if (depth > MAX_DEPTH) {
                throw fail("nested deeper than " + MAX_DEPTH + " levels");
            }
            if (parser.isCurrentAlias()) {
                throw fail("YAML alias '*" + shorten(parser.getText()) + "' (expected: no anchors or aliases)");
            }
            if (parser.getObjectId() != null) {
                throw fail("YAML anchor '&" + shorten(String.valueOf(parser.getObjectId()))
                        + "' (expected: no anchors or aliases)");
            }
            if (parser.getTypeId() != null) {
                throw fail("YAML tag '!" + shorten(String.valueOf(parser.getTypeId())) + "' (expected: no tags)");
            }
            JsonNodeFactory f = JsonNodeFactory.instance;
            switch (t) {
                case START_OBJECT: {
                    ObjectNode o = f.objectNode();
                    JsonToken k;
                    while ((k = parser.nextToken()) == JsonToken.FIELD_NAME) {
                        String name = parser.currentName();
                        if (o.has(name)) {
                            throw fail("duplicate key '" + shorten(name) + "'");
                        }
                        o.set(name, value(parser.nextToken(), depth + 1));
                    }
                    if (k != JsonToken.END_OBJECT) {
                        throw fail("unexpected " + k + " in a mapping");
                    }
                    return o;
                }
                case START_ARRAY: {
                    ArrayNode a = f.arrayNode();
                    JsonToken e;
                    while ((e = parser.nextToken()) != JsonToken.END_ARRAY) {
                        if (e == null) {
                            throw fail("unterminated list");
                        }
                        a.add(value(e, depth + 1));
                    }
                    return a;
                }
                case VALUE_STRING:
                    return f.textNode(parser.getText());
                case VALUE_NUMBER_INT:
                    return f.numberNode(parser.getBigIntegerValue());
                case VALUE_NUMBER_FLOAT:
                    return f.numberNode(parser.getDecimalValue());
                case VALUE_TRUE:
                    return f.booleanNode(true);
                case VALUE_FALSE:
                    return f.booleanNode(false);
                case VALUE_NULL:
                    return f.nullNode();
                default:
                    throw fail("unsupported YAML value " + t);
            }
        }

        private PolicyException fail(String what) {
            JsonLocation at = parser.currentTokenLocation();
            return new PolicyException("policy: line " + at.getLineNr() + ": " + what);
        }

        private static String firstLine(String s) {
            if (s == null) {
                return "unreadable";
            }
            int nl = s.indexOf('\n');
            return shorten(nl < 0 ? s : s.substring(0, nl));
        }
    }
}
