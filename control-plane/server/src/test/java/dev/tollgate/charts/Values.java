package dev.tollgate.charts;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Chart values for a test, written to a values file: helm-java passes {@code set} values as strings, and the chart's
 * schema wants numbers and booleans typed.
 */
final class Values {
    private final Map<String, Object> root = new LinkedHashMap<>();

    /** Sets a value by dotted path: {@code set("database.url", "jdbc:...")}. */
    @SuppressWarnings("unchecked")
    Values set(String dottedKey, Object value) {
        String[] parts = dottedKey.split("\\.");
        Map<String, Object> node = root;
        for (int i = 0; i < parts.length - 1; i++) {
            node = (Map<String, Object>) node.computeIfAbsent(parts[i], k -> new LinkedHashMap<String, Object>());
        }
        node.put(parts[parts.length - 1], value);
        return this;
    }

    Path write() {
        try {
            Path file = Files.createTempFile("tollgate-values-", ".yaml");
            file.toFile().deleteOnExit();
            ChartFiles.YAML.writeValue(file.toFile(), root);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
