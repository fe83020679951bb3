package dev.tollgate.testing;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The options of a reference configuration file (block-style YAML as written under {@code config/}) with the one-line
 * description each carries: a trailing {@code # comment}, or the comment line right above it. Keys inside a one-line
 * flow mapping ({@code ingress: {address: "..."}}) share that line's description; list items count as index keys.
 * Paths are the keys joined by {@code /}, like {@code svid/max-ttl} or {@code credentials/exempt/0/path-prefix}.
 */
public final class ReferenceYaml {
    private static final Pattern KEY_LINE = Pattern.compile("^(\\s*)(- )?([A-Za-z0-9_.-]+):(?:\\s+(.*))?$");
    private static final Pattern FLOW_KEY = Pattern.compile("[{,]\\s*([A-Za-z0-9_.-]+):");

    /** One option (or section) of the file. */
    public record Entry(String path, int line, Optional<String> description) {
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private ReferenceYaml() {
    }

    public static ReferenceYaml parse(String text) {
        ReferenceYaml r = new ReferenceYaml();
        String[] lines = text.split("\n", -1);
        Deque<Integer> indents = new ArrayDeque<>();
        Deque<String> keys = new ArrayDeque<>();
        Map<String, Integer> listIndex = new LinkedHashMap<>();
        String previousComment = null;
        for (int i = 0; i < lines.length; i++) {
            String raw = lines[i];
            String trimmed = raw.strip();
            if (trimmed.isEmpty()) {
                previousComment = null;
                continue;
            }
            if (trimmed.startsWith("#")) {
                previousComment = trimmed.substring(1).strip();
                continue;
            }
            Matcher m = KEY_LINE.matcher(stripComment(raw));
            if (!m.matches() && trimmed.startsWith("- {")) {
                // a list item that is a one-line flow mapping: its keys under <list>/<index>
                int indent = raw.indexOf('-');
                while (!indents.isEmpty() && indents.peek() >= indent) {
                    indents.pop();
                    keys.pop();
                }
                String parent = String.join("/", reversed(keys));
                String item = parent + "/" + (listIndex.merge(parent, 1, Integer::sum) - 1);
                Optional<String> trailing = trailingComment(raw);
                Optional<String> description = trailing.isPresent() ? trailing
                        : previousComment != null ? Optional.of(previousComment)
                        : Optional.ofNullable(r.entries.get(parent)).flatMap(Entry::description);
                Matcher f = FLOW_KEY.matcher(stripComment(trimmed.substring(2)));
                while (f.find()) {
                    String child = item + "/" + f.group(1);
                    r.entries.putIfAbsent(child, new Entry(child, i + 1, description));
                }
                previousComment = null;
                continue;
            }
            if (!m.matches()) {
                if (trimmed.startsWith("- ")) { // a scalar list item: counts for the indexes of the items after it
                    int indent = raw.indexOf('-');
                    while (!indents.isEmpty() && indents.peek() >= indent) {
                        indents.pop();
                        keys.pop();
                    }
                    listIndex.merge(String.join("/", reversed(keys)), 1, Integer::sum);
                }
                previousComment = null; // not an option
                continue;
            }
            int indent = m.group(1).length();
            boolean item = m.group(2) != null;
            while (!indents.isEmpty() && indents.peek() >= indent) {
                indents.pop();
                keys.pop();
            }
            String parent = String.join("/", reversed(keys));
            if (item) {
                int index = listIndex.merge(parent, 1, Integer::sum) - 1;
                keys.push(String.valueOf(index));
                indents.push(indent);
                parent = String.join("/", reversed(keys));
                indent += 2;
            }
            String key = m.group(3);
            String path = parent.isEmpty() ? key : parent + "/" + key;
            Optional<String> trailing = trailingComment(raw);
            Optional<String> description = trailing.isPresent() ? trailing
                    : previousComment != null ? Optional.of(previousComment)
                    : r.listDescription(path);
            r.entries.putIfAbsent(path, new Entry(path, i + 1, description));
            String value = m.group(4) == null ? "" : stripComment(m.group(4)).strip();
            if (value.startsWith("{")) {
                Matcher f = FLOW_KEY.matcher(value);
                while (f.find()) {
                    String child = path + "/" + f.group(1);
                    r.entries.putIfAbsent(child, new Entry(child, i + 1, description));
                }
            }
            if (value.isEmpty()) {
                keys.push(key);
                indents.push(indent);
            }
            previousComment = null;
        }
        return r;
    }

    /**
     * For an option inside a list item ({@code routes/1/path}): the description of the list ({@code routes}), which
     * describes its items' fields together.
     */
    private Optional<String> listDescription(String path) {
        java.util.regex.Matcher m = Pattern.compile("^(.*)/\\d+/[^/]+$").matcher(path);
        return m.matches() ? Optional.ofNullable(entries.get(m.group(1))).flatMap(Entry::description) : Optional.empty();
    }

    private static Iterable<String> reversed(Deque<String> stack) {
        return () -> stack.descendingIterator();
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Optional<Entry> entry(String path) {
        return Optional.ofNullable(entries.get(path));
    }

    /** The text before a {@code #} that is outside quotes and preceded by white space. */
    static String stripComment(String line) {
        int at = commentStart(line);
        return at < 0 ? line : line.substring(0, at);
    }

    static Optional<String> trailingComment(String line) {
        int at = commentStart(line);
        if (at < 0) {
            return Optional.empty();
        }
        String c = line.substring(at + 1).strip();
        return c.isEmpty() ? Optional.empty() : Optional.of(c);
    }

    private static int commentStart(String line) {
        boolean single = false;
        boolean dbl = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"' && !single) {
                dbl = !dbl;
            } else if (c == '\'' && !dbl) {
                single = !single;
            } else if (c == '#' && !single && !dbl && (i == 0 || Character.isWhitespace(line.charAt(i - 1)))) {
                return i;
            }
        }
        return -1;
    }
}
