package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.testing.ReferenceYaml;

/** {@code config/sidecar.yaml} at the repository top: the one reference of every sidecar option and its default. */
class ReferenceConfigTest {
    /** The reference file, relative to this module's directory (where surefire runs). */
    static final Path REFERENCE = Path.of("..", "config", "sidecar.yaml");
    /**
     * The example of a sidecar whose SVID comes from the control plane: `control-plane:` excludes the certificate
     * files of the reference, so its options are shown here; together the two files show every option.
     */
    static final Path CONTROL_PLANE_EXAMPLE = Path.of("..", "config", "sidecar-control-plane.yaml");
    private static final String PROBE = "zz-probe-option";
    private static final Pattern EXPECTED_KEYS = Pattern.compile("unknown option \\(expected one of: (.*)\\)$");

    @TempDir
    Path base;

    @Test
    void referenceFileParsesAndStatesTheDefaults() throws Exception {
        SidecarConfig c = ConfigLoader.parse(Files.readString(REFERENCE), base);

        assertThat(c.limits()).isEqualTo(SidecarConfig.Limits.defaults());
        assertThat(c.drainTimeout()).isEqualTo(ConfigDefaults.DRAIN_TIMEOUT);
        assertThat(c.workerThreads()).isEqualTo(ConfigDefaults.WORKER_THREADS);
        assertThat(c.tls().minVersion()).isEqualTo(ConfigDefaults.TLS_MIN_VERSION);
        assertThat(c.tls().handshakeTimeout()).isEqualTo(ConfigDefaults.TLS_HANDSHAKE_TIMEOUT);
        assertThat(c.tls().reloadInterval()).isEqualTo(ConfigDefaults.TLS_RELOAD_INTERVAL);
        assertThat(c.listeners().ingress()).contains(HostPort.parse(ConfigDefaults.INGRESS_ADDRESS));
        assertThat(c.listeners().egress()).contains(HostPort.parse(ConfigDefaults.EGRESS_ADDRESS));
        assertThat(c.listeners().admin()).contains(HostPort.parse(ConfigDefaults.ADMIN_ADDRESS));
        SidecarConfig.Upstream billing = c.upstreams().get("billing");
        assertThat(billing.connectTimeout()).isEqualTo(ConfigDefaults.UPSTREAM_CONNECT_TIMEOUT);
        assertThat(billing.idleTimeout()).isEqualTo(ConfigDefaults.UPSTREAM_IDLE_TIMEOUT);
        assertThat(billing.requestTimeout()).isEqualTo(ConfigDefaults.UPSTREAM_REQUEST_TIMEOUT);
        assertThat(billing.poolSize()).isEqualTo(ConfigDefaults.UPSTREAM_POOL_SIZE);
    }

    /**
     * For every section of the reference file, the loader is given an unknown option there; its error names every
     * option the code accepts in that section, and each must be in the file. An option added to the loader but not
     * to {@code config/sidecar.yaml} fails here.
     */
    @Test
    void referenceFilesShowEveryOptionTheLoaderAccepts() throws Exception {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> files = List.of(yaml.readTree(Files.readString(REFERENCE)),
                yaml.readTree(Files.readString(CONTROL_PLANE_EXAMPLE)));
        List<ReferenceYaml> lines = List.of(ReferenceYaml.parse(Files.readString(REFERENCE)),
                ReferenceYaml.parse(Files.readString(CONTROL_PLANE_EXAMPLE)));
        Set<String> missing = new TreeSet<>();
        Set<String> undescribed = new TreeSet<>();
        int sections = 0;
        for (JsonNode reference : files) {
            for (String path : objectPaths(reference, "")) {
                JsonNode probed = reference.deepCopy();
                ObjectNode section = (ObjectNode) (path.isEmpty() ? probed : probed.at(path));
                section.put(PROBE, 1);
                List<String> errors = List.of();
                try {
                    ConfigLoader.parse(json.writeValueAsString(probed), base);
                } catch (ConfigException e) {
                    errors = e.errors();
                }
                for (String error : errors) {
                    Matcher m = EXPECTED_KEYS.matcher(error);
                    if (error.contains(PROBE) && m.find()) {
                        sections++;
                        Set<String> inFiles = new TreeSet<>();
                        boolean upstream = path.startsWith("/upstreams/");
                        for (JsonNode f : files) {
                            // an upstream's options: those of every upstream in both files together
                            if (path.isEmpty() || !f.at(path).isMissingNode() || upstream && f.has("upstreams")) {
                                inFiles.addAll(keysAt(f, path));
                            }
                        }
                        for (String option : m.group(1).split(", ")) {
                            String where = (path.isEmpty() ? "" : path + "/") + option;
                            if (!inFiles.contains(option)) {
                                missing.add(where);
                            } else if (!described(lines, path, option)) {
                                undescribed.add(where);
                            }
                        }
                    }
                }
            }
        }
        assertThat(sections).as("sections whose options the loader lists").isGreaterThanOrEqualTo(10);
        assertThat(missing).as("options accepted in code but missing from %s and %s", REFERENCE,
                CONTROL_PLANE_EXAMPLE).isEmpty();
        assertThat(undescribed).as("options in %s or %s without a one-line description (a trailing # comment or "
                + "the comment line right above)", REFERENCE, CONTROL_PLANE_EXAMPLE).isEmpty();
    }

    /**
     * Whether the option at {@code section}/{@code option} carries a description in one of the files; for an
     * upstream's option, in any upstream (the reference shows each option in one of its two upstreams).
     */
    private static boolean described(List<ReferenceYaml> files, String section, String option) {
        String sec = section.replaceFirst("^/", "");
        Matcher upstream = Pattern.compile("^upstreams/[^/]+(.*)$").matcher(sec);
        Pattern target = Pattern.compile(upstream.matches()
                ? "upstreams/[^/]+" + Pattern.quote(upstream.group(1) + "/" + option)
                : Pattern.quote((sec.isEmpty() ? "" : sec + "/") + option));
        return files.stream().flatMap(f -> f.entries().values().stream())
                .anyMatch(e -> target.matcher(e.path()).matches() && e.description().isPresent());
    }

    @Test
    void controlPlaneExampleParses() throws Exception {
        SidecarConfig c = ConfigLoader.parse(Files.readString(CONTROL_PLANE_EXAMPLE), base);
        assertThat(c.controlPlane()).isPresent();
    }

    /**
     * The option names at {@code path}; for one upstream, those of every upstream together (the reference shows an
     * mTLS and an external upstream, whose options differ).
     */
    private static Set<String> keysAt(JsonNode reference, String path) {
        Set<String> keys = new TreeSet<>();
        Matcher upstream = Pattern.compile("^/upstreams/[^/]+(.*)$").matcher(path);
        List<JsonNode> nodes = new ArrayList<>();
        if (upstream.matches()) {
            reference.get("upstreams").forEach(u -> nodes.add(u.at(upstream.group(1))));
        } else {
            nodes.add(path.isEmpty() ? reference : reference.at(path));
        }
        for (JsonNode n : nodes) {
            n.fieldNames().forEachRemaining(keys::add);
        }
        return keys;
    }

    /** JSON pointers of every object in the tree, the root as "". */
    private static List<String> objectPaths(JsonNode node, String path) {
        List<String> out = new ArrayList<>();
        if (node.isObject()) {
            out.add(path);
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                out.addAll(objectPaths(node.get(k), path + "/" + k));
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                out.addAll(objectPaths(node.get(i), path + "/" + i));
            }
        }
        return out;
    }
}
