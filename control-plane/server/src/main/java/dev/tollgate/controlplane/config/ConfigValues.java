package dev.tollgate.controlplane.config;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

/**
 * A configuration being read: YAML flattened to dotted keys, overridden by command-line values, checked against a
 * table of known options. Every problem is collected so that all of them are reported at once.
 */
public final class ConfigValues {
    /** Largest configuration file read. */
    public static final long MAX_FILE_BYTES = 1 << 20;

    private final Map<String, Option> options;
    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> errors = new ArrayList<>();

    /** One configuration option: its dotted key, its default ("" when none) and what it does. */
    public record Option(String key, String defaultValue, String description) {
    }

    public ConfigValues(List<Option> options) {
        this.options = new LinkedHashMap<>();
        for (Option o : options) {
            this.options.put(o.key(), o);
        }
    }

    /** Reads a YAML file; unknown keys and malformed YAML become errors. */
    public ConfigValues loadYaml(Path file) {
        try {
            if (!Files.isRegularFile(file)) {
                errors.add("config file " + file.toAbsolutePath() + ": "
                        + (Files.exists(file) ? "not a regular file" : "does not exist"));
                return this;
            }
            if (Files.size(file) > MAX_FILE_BYTES) {
                errors.add(file + ": " + Files.size(file) + " bytes (expected: <= " + MAX_FILE_BYTES + ")");
                return this;
            }
            ObjectMapper yaml = new YAMLMapper(YAMLFactory.builder().build())
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION.mappedFeature());
            JsonNode root = yaml.readTree(file.toFile());
            if (root == null || root.isMissingNode() || root.isNull()) {
                return this;
            }
            if (!root.isObject()) {
                errors.add(file + ": top level must be a mapping");
                return this;
            }
            flatten("", root, file.toString());
        } catch (java.nio.file.AccessDeniedException e) {
            errors.add("config file " + file.toAbsolutePath() + ": cannot be read (permission denied)");
        } catch (IOException e) {
            errors.add(file + ": " + String.valueOf(e.getMessage()).lines().findFirst().orElse("unreadable"));
        }
        return this;
    }

    private void flatten(String prefix, JsonNode node, String origin) {
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            JsonNode v = e.getValue();
            if (v.isObject() && !options.containsKey(key)) {
                flatten(key, v, origin);
            } else {
                set(key, v.isNull() ? "" : v.isValueNode() ? v.asText() : v.toString(), origin);
            }
        }
    }

    /** Sets a value (a command-line flag wins over the file when applied after it). */
    public ConfigValues set(String key, String value, String origin) {
        if (!options.containsKey(key)) {
            errors.add(origin + ": unknown option '" + key + "'");
        } else if (value != null) {
            values.put(key, value);
        }
        return this;
    }

    public String string(String key) {
        Option o = option(key);
        return values.getOrDefault(key, o.defaultValue());
    }

    public Optional<String> optional(String key) {
        String s = string(key);
        return s == null || s.isEmpty() ? Optional.empty() : Optional.of(s);
    }

    public String required(String key) {
        String s = string(key);
        if (s == null || s.isEmpty()) {
            errors.add(key + ": not set (expected: " + option(key).description() + ")");
        }
        return s;
    }

    public Duration duration(String key, Duration min, Duration max) {
        String s = string(key);
        try {
            Duration d = Durations.parse(s);
            if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
                errors.add(key + ": " + s + " (expected: between " + Durations.format(min) + " and "
                        + Durations.format(max) + ")");
            }
            return d;
        } catch (IllegalArgumentException e) {
            errors.add(key + ": " + e.getMessage());
            return min;
        }
    }

    public long integer(String key, long min, long max) {
        String s = string(key);
        try {
            long n = Long.parseLong(s.trim());
            if (n < min || n > max) {
                errors.add(key + ": " + n + " (expected: between " + min + " and " + max + ")");
            }
            return n;
        } catch (NumberFormatException e) {
            errors.add(key + ": '" + s + "' (expected: a whole number)");
            return min;
        }
    }

    public double fraction(String key, double minExclusive, double maxExclusive) {
        String s = string(key);
        try {
            double d = Double.parseDouble(s.trim());
            if (!(d > minExclusive && d < maxExclusive)) {
                errors.add(key + ": " + s + " (expected: > " + minExclusive + " and < " + maxExclusive + ")");
            }
            return d;
        } catch (NumberFormatException e) {
            errors.add(key + ": '" + s + "' (expected: a number like 0.5)");
            return (minExclusive + maxExclusive) / 2;
        }
    }

    public InetSocketAddress address(String key) {
        String s = string(key);
        int colon = s.lastIndexOf(':');
        try {
            if (colon <= 0) {
                throw new NumberFormatException();
            }
            String host = s.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port = Integer.parseInt(s.substring(colon + 1));
            if (port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return new InetSocketAddress(host, port);
        } catch (NumberFormatException e) {
            errors.add(key + ": '" + s + "' (expected: host:port, like 127.0.0.1:8443; port 0 picks a free one)");
            return new InetSocketAddress("127.0.0.1", 0);
        }
    }

    public Optional<Path> path(String key) {
        return optional(key).map(Path::of);
    }

    public void error(String message) {
        errors.add(message);
    }

    public List<String> errors() {
        return List.copyOf(errors);
    }

    /** Throws one exception listing every problem, if there were any. */
    public void throwIfInvalid(String what) {
        if (!errors.isEmpty()) {
            throw new ConfigException(what, errors);
        }
    }

    private Option option(String key) {
        Option o = options.get(key);
        if (o == null) {
            throw new IllegalStateException("option " + key + " is not declared");
        }
        return o;
    }
}
