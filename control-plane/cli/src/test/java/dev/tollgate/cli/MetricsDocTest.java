package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.proxy.identity.IdentityMetrics;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * {@code docs/metrics.md} lists every meter of the control plane and the sidecar: every meter name declared in a
 * {@code *Metrics} class of either (their constants are the one place meter names live), and every meter the
 * metrics classes register, with each of its tag keys on the meter's line.
 */
class MetricsDocTest {
    static final Path PAGE = Path.of("..", "..", "docs", "metrics.md");

    @Test
    void everyMeterIsListedWithItsTags() throws Exception {
        String page = Files.readString(PAGE);
        Map<String, String> declared = new TreeMap<>();
        for (Class<?> anchor : List.of(ControlPlaneMetrics.class, ProxyMetrics.class)) {
            for (Class<?> c : metricsClasses(anchor)) {
                for (Field f : c.getDeclaredFields()) {
                    int m = f.getModifiers();
                    if (Modifier.isStatic(m) && Modifier.isFinal(m) && f.getType() == String.class) {
                        f.setAccessible(true);
                        String v = (String) f.get(null);
                        if (v != null && v.startsWith("tollgate.") && v.matches("[a-z0-9_.]+")) {
                            declared.putIfAbsent(v, c.getSimpleName() + "." + f.getName());
                        }
                    }
                }
            }
        }
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new ControlPlaneMetrics(registry);
        new ProxyMetrics(registry, Clock.systemUTC());
        new IdentityMetrics(registry, Clock.systemUTC());
        new dev.tollgate.webhook.WebhookMetrics(registry, Clock.systemUTC());
        new ProxyMetrics(registry, Clock.systemUTC()).requestDuration(dev.tollgate.proxy.metrics.Direction.EGRESS, "crm", 1);
        Map<String, Set<String>> registeredTags = new TreeMap<>();
        for (Meter meter : registry.getMeters()) {
            if (meter.getId().getName().endsWith(".histogram") && meter.getId().getTag("le") != null) {
                // A timer's buckets, which this registry shows as a gauge of its own; Prometheus scrapes them as the
                // timer's _bucket series, documented on the timer's line.
                continue;
            }
            Set<String> keys = registeredTags.computeIfAbsent(meter.getId().getName(), k -> new TreeSet<>());
            meter.getId().getTags().stream().map(Tag::getKey).forEach(keys::add);
        }
        assertThat(declared).as("meter names found").hasSizeGreaterThan(30);

        List<String> missing = new ArrayList<>();
        declared.forEach((name, where) -> {
            if (line(page, name) == null) {
                missing.add(name + " (declared as " + where + ")");
            }
        });
        registeredTags.forEach((name, keys) -> {
            String line = line(page, name);
            if (line == null) {
                if (!declared.containsKey(name)) {
                    missing.add(name + " (registered, tags " + keys + ")");
                }
                return;
            }
            for (String k : keys) {
                if (!line.contains("`" + k + "`")) {
                    missing.add(name + ": tag `" + k + "` is not on its line of " + PAGE);
                }
            }
        });
        assertThat(missing).as("meters of the control plane and the sidecar missing from %s (add a table row: "
                + "| `name` | type | `tag` ... | meaning |)", PAGE).isEmpty();
    }

    /** The table row of {@code docs/metrics.md} that names the meter in its first cell, or null. */
    private static String line(String page, String name) {
        for (String l : page.split("\n")) {
            if (l.startsWith("| `" + name + "`")) {
                return l;
            }
        }
        return null;
    }

    /** Every class whose name ends in {@code Metrics} in the same classes directory or jar as {@code anchor}. */
    private static List<Class<?>> metricsClasses(Class<?> anchor) throws IOException, URISyntaxException,
            ClassNotFoundException {
        Path root = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<Class<?>> out = new ArrayList<>();
        if (Files.isDirectory(root)) {
            try (Stream<Path> files = Files.walk(root)) {
                for (Path p : files.filter(f -> f.getFileName().toString().endsWith("Metrics.class")).toList()) {
                    String cls = root.relativize(p).toString().replace('/', '.').replaceAll("\\.class$", "");
                    out.add(Class.forName(cls));
                }
            }
        } else {
            try (var jar = new java.util.jar.JarFile(root.toFile())) {
                for (var e : java.util.Collections.list(jar.entries())) {
                    if (e.getName().endsWith("Metrics.class") && !e.getName().contains("$")) {
                        out.add(Class.forName(e.getName().replace('/', '.').replaceAll("\\.class$", "")));
                    }
                }
            }
        }
        assertThat(out).as("metrics classes beside %s", anchor).contains(anchor);
        return out;
    }
}
