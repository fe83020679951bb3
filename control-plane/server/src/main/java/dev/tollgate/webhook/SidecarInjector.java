package dev.tollgate.webhook;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

/**
 * Decides whether a pod gets the sidecar and builds the RFC 6902 JSON Patch that adds it: a pure function of the
 * AdmissionReview request, the settings and the trust anchor (no I/O, no clock), tested on its own.
 */
public final class SidecarInjector {
    /** Largest value of the upstreams annotation read. */
    public static final int MAX_UPSTREAMS_ANNOTATION = 64 * 1024;

    /** What happened to one admission request; the tag is a metric label. */
    public enum Result {
        INJECTED, OPTED_OUT, ALREADY_INJECTED, NOT_A_POD_CREATE, REFUSED;

        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The answer for one request: a patch when injected, a message when refused or skipped. */
    public record Admission(Result result, ArrayNode patch, String message) {
        public boolean allowed() {
            return result != Result.REFUSED;
        }
    }

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final ObjectMapper YAML_OUT = new YAMLMapper(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .build());
    private static final ObjectMapper YAML_IN = new YAMLMapper(YAMLFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32).build())
            .build()).enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION.mappedFeature());
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    /** As the sidecar's configuration takes an upstream name (ConfigLoader): a name it refuses would crash-loop it. */
    private static final Pattern UPSTREAM_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    private static final int MODE_READ_ALL = 0444;

    private final InjectionSettings s;

    public SidecarInjector(InjectionSettings settings) {
        this.s = settings;
    }

    /** The decision for one AdmissionReview {@code request} (already checked to carry a uid). */
    public Admission admit(JsonNode request, String trustAnchorPem) {
        if (!"Pod".equals(request.at("/kind/kind").asText()) || !request.at("/kind/group").asText().isEmpty()
                || !"CREATE".equals(request.path("operation").asText()) || !request.path("subResource").asText().isEmpty()) {
            return new Admission(Result.NOT_A_POD_CREATE, null, "not a pod being created: left unchanged");
        }
        JsonNode pod = request.path("object");
        if (!pod.isObject() || !pod.path("spec").isObject() || !pod.at("/spec/containers").isArray()
                || pod.at("/spec/containers").isEmpty()) {
            return refused("request.object: not a Pod with spec.containers (expected: the pod being created)");
        }
        JsonNode labels = pod.at("/metadata/labels");
        JsonNode annotations = pod.at("/metadata/annotations");
        if ("false".equals(labels.path(Annotations.INJECT).asText()) || "false".equals(annotations.path(Annotations.INJECT).asText())) {
            return new Admission(Result.OPTED_OUT, null, Annotations.INJECT + " is false: left unchanged");
        }
        if (Annotations.STATUS_INJECTED.equals(annotations.path(Annotations.STATUS).asText())
                || hasNamed(pod.at("/spec/containers"), Annotations.CONTAINER)
                || hasNamed(pod.at("/spec/initContainers"), Annotations.CONTAINER)) {
            return new Admission(Result.ALREADY_INJECTED, null, "the sidecar is already there: left unchanged");
        }

        List<String> problems = new ArrayList<>();
        PodOptions o = podOptions(annotations, problems);
        if (pod.at("/spec/hostNetwork").asBoolean(false)) {
            problems.add("spec.hostNetwork: true (expected: false; on the node's network the sidecar's ports would be the node's"
                    + "; opt the pod out with the label " + Annotations.INJECT + "=false)");
        }
        for (String v : List.of(Annotations.VOLUME_CONFIG, Annotations.VOLUME_TOKEN, Annotations.VOLUME_TMP)) {
            if (hasNamed(pod.at("/spec/volumes"), v)) {
                problems.add("spec.volumes: '" + v + "' already exists (expected: names tollgate-sidecar-* are the sidecar's)");
            }
        }
        // The sidecar's volumes hold its attestation token and its unpacked native code: no other container of the
        // pod mounts them (a mount by name is valid once the patch adds the volume), nor sees into its process.
        for (String list : List.of("/spec/containers", "/spec/initContainers", "/spec/ephemeralContainers")) {
            for (JsonNode c : pod.at(list)) {
                for (JsonNode m : c.path("volumeMounts")) {
                    if (m.path("name").asText().startsWith(Annotations.CONTAINER + "-")) {
                        problems.add("container '" + c.path("name").asText() + "' mounts volume '"
                                + m.path("name").asText() + "' (expected: names tollgate-sidecar-* are the sidecar's"
                                + " alone)");
                    }
                }
                if (c.at("/securityContext/runAsUser").isIntegralNumber()
                        && c.at("/securityContext/runAsUser").asLong() == s.runAsUser()) {
                    problems.add("container '" + c.path("name").asText() + "' runs as user " + s.runAsUser()
                            + " (expected: not the sidecar's user, sidecar.run-as-user)");
                }
            }
        }
        if (pod.at("/spec/securityContext/runAsUser").isIntegralNumber()
                && pod.at("/spec/securityContext/runAsUser").asLong() == s.runAsUser()) {
            problems.add("spec.securityContext.runAsUser: " + s.runAsUser() + " (expected: not the sidecar's user, "
                    + "sidecar.run-as-user)");
        }
        if (pod.at("/spec/shareProcessNamespace").asBoolean(false)) {
            problems.add("spec.shareProcessNamespace: true (expected: false; the agent would see into the sidecar's "
                    + "process and memory, its keys and injected credentials among them)");
        }
        List<Integer> sidecarPorts = new ArrayList<>(List.of(s.adminPort(), s.egressPort()));
        if (o.appPort != null) {
            sidecarPorts.add(s.ingressPort());
            if (sidecarPorts.contains(o.appPort)) {
                problems.add(Annotations.APP_PORT + ": " + o.appPort + " (expected: not a port of the sidecar: " + sidecarPorts + ")");
            }
        }
        for (String list : List.of("/spec/containers", "/spec/initContainers")) {
            for (JsonNode c : pod.at(list)) {
                for (JsonNode p : c.path("ports")) {
                    int port = p.path("containerPort").asInt(-1);
                    if (sidecarPorts.contains(port)) {
                        problems.add("container '" + c.path("name").asText() + "' port " + port
                                + ": used by the sidecar (expected: none of " + sidecarPorts + ")");
                    }
                }
            }
        }
        if (!problems.isEmpty()) {
            return refused("the Tollgate sidecar cannot be added: " + String.join("; ", problems));
        }
        return new Admission(Result.INJECTED, patch(pod, o, trustAnchorPem), "sidecar added");
    }

    private static Admission refused(String message) {
        return new Admission(Result.REFUSED, null, message);
    }

    /** Per-pod options from annotations, each checked. */
    private static final class PodOptions {
        boolean nativeSidecar;
        String configMap;
        ObjectNode upstreams;
        Integer appPort;
        String inspection;
        ArrayNode allow;
    }

    private PodOptions podOptions(JsonNode annotations, List<String> problems) {
        PodOptions o = new PodOptions();
        o.nativeSidecar = s.nativeSidecar();
        JsonNode n = annotations.path(Annotations.NATIVE);
        if (!n.isMissingNode()) {
            if ("true".equals(n.asText()) || "false".equals(n.asText())) {
                o.nativeSidecar = "true".equals(n.asText());
            } else {
                problems.add(Annotations.NATIVE + ": '" + clip(n.asText()) + "' (expected: true or false)");
            }
        }
        JsonNode cm = annotations.path(Annotations.CONFIG_MAP);
        if (!cm.isMissingNode()) {
            String name = cm.asText();
            if (name.length() > 253 || !DNS_LABEL.matcher(name).matches()) {
                problems.add(Annotations.CONFIG_MAP + ": '" + clip(name) + "' (expected: the name of a ConfigMap in the pod's namespace)");
            } else {
                o.configMap = name;
            }
        }
        JsonNode port = annotations.path(Annotations.APP_PORT);
        if (!port.isMissingNode()) {
            try {
                int p = Integer.parseInt(port.asText().trim());
                if (p < 1 || p > 65535) {
                    throw new NumberFormatException();
                }
                o.appPort = p;
            } catch (NumberFormatException e) {
                problems.add(Annotations.APP_PORT + ": '" + clip(port.asText()) + "' (expected: a port number, 1..65535)");
            }
        }
        JsonNode inspection = annotations.path(Annotations.INSPECTION);
        if (!inspection.isMissingNode()) {
            String i = inspection.asText();
            if (!List.of("none", "mcp", "rest").contains(i)) {
                problems.add(Annotations.INSPECTION + ": '" + clip(i) + "' (expected: none, mcp or rest)");
            } else if (port.isMissingNode()) {
                problems.add(Annotations.INSPECTION + ": set without " + Annotations.APP_PORT + " (expected: both, for the ingress listener)");
            } else {
                o.inspection = i;
            }
        }
        JsonNode allow = annotations.path(Annotations.ALLOW);
        if (!allow.isMissingNode()) {
            ArrayNode list = F.arrayNode();
            for (String entry : allow.asText().split(",")) {
                String e = entry.trim();
                if (e.startsWith("spiffe://") && e.length() > "spiffe://".length() && e.length() <= 2048) {
                    list.add(e);
                } else if (e.startsWith("td:") && DNS_LABEL.matcher(e.substring(3)).matches()) {
                    list.add(F.objectNode().put("trust-domain", e.substring(3)));
                } else {
                    problems.add(Annotations.ALLOW + ": '" + clip(e) + "' (expected: spiffe://... IDs or td:<trust domain>, comma-separated)");
                }
            }
            if (port.isMissingNode()) {
                problems.add(Annotations.ALLOW + ": set without " + Annotations.APP_PORT + " (expected: both, for the ingress listener)");
            }
            o.allow = list;
        }
        JsonNode upstreams = annotations.path(Annotations.UPSTREAMS);
        if (!upstreams.isMissingNode()) {
            o.upstreams = upstreams(upstreams.asText(), problems);
        }
        if (o.configMap != null) {
            for (String generatedOnly : List.of(Annotations.UPSTREAMS, Annotations.APP_PORT, Annotations.INSPECTION, Annotations.ALLOW)) {
                if (annotations.has(generatedOnly)) {
                    problems.add(generatedOnly + ": set with " + Annotations.CONFIG_MAP
                            + " (expected: one of them; the ConfigMap's sidecar.yaml is used as it is)");
                }
            }
        }
        return o;
    }

    private static ObjectNode upstreams(String text, List<String> problems) {
        if (text.length() > MAX_UPSTREAMS_ANNOTATION) {
            problems.add(Annotations.UPSTREAMS + ": " + text.length() + " characters (expected: <= " + MAX_UPSTREAMS_ANNOTATION + ")");
            return null;
        }
        JsonNode n;
        try {
            n = YAML_IN.readTree(text);
        } catch (IOException e) {
            String why = e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            problems.add(Annotations.UPSTREAMS + ": " + clip(why) + " (expected: a YAML or JSON mapping of upstream name to its options)");
            return null;
        }
        if (n == null || !n.isObject() || n.isEmpty()) {
            problems.add(Annotations.UPSTREAMS + ": not a mapping (expected: a YAML or JSON mapping of upstream name to its options, as upstreams: in config/sidecar.yaml)");
            return null;
        }
        n.fields().forEachRemaining(e -> {
            if (!UPSTREAM_NAME.matcher(e.getKey()).matches() || e.getKey().length() > 63) {
                problems.add(Annotations.UPSTREAMS + ": name '" + clip(e.getKey()) + "' (expected: lower-case letters, digits, '-', '_', '.')");
            } else if (!e.getValue().isObject() || !e.getValue().path("address").isTextual()) {
                problems.add(Annotations.UPSTREAMS + "." + e.getKey() + ": (expected: a mapping with at least address: host:port)");
            }
        });
        return (ObjectNode) n;
    }

    private static String clip(String s) {
        String one = s == null ? "" : s.replaceAll("[\\p{Cntrl}]", " ");
        return one.length() > 80 ? one.substring(0, 80) + "..." : one;
    }

    private static boolean hasNamed(JsonNode list, String name) {
        for (JsonNode item : list) {
            if (name.equals(item.path("name").asText())) {
                return true;
            }
        }
        return false;
    }

    /** The sidecar.yaml generated for a pod: the base config with the webhook's and the pod's options laid over it. */
    private String generate(PodOptions o) {
        ObjectNode cfg = s.baseConfig().deepCopy();
        ObjectNode listeners = cfg.putObject("listeners");
        listeners.putObject("egress").put("address", "127.0.0.1:" + s.egressPort());
        listeners.putObject("admin").put("address", "0.0.0.0:" + s.adminPort()).put("expose", true);
        if (o.appPort != null) {
            listeners.putObject("ingress").put("address", "0.0.0.0:" + s.ingressPort());
            cfg.put("app", "127.0.0.1:" + o.appPort);
            if (o.inspection != null) {
                cfg.putObject("ingress").put("inspection", o.inspection);
            }
        }
        if (o.allow != null) {
            ObjectNode identity = cfg.path("identity").isObject() ? (ObjectNode) cfg.get("identity") : cfg.putObject("identity");
            identity.set("allow", o.allow);
        }
        if (o.upstreams != null) {
            cfg.set("upstreams", o.upstreams);
        }
        ObjectNode cp = cfg.path("control-plane").isObject() ? (ObjectNode) cfg.get("control-plane") : cfg.putObject("control-plane");
        cp.put("url", s.controlPlaneUrl());
        cp.put("server-id", s.controlPlaneServerId());
        cp.put("trust-anchor", Annotations.TRUST_ANCHOR_FILE);
        cp.put(Annotations.TOKEN_FILE_OPTION, Annotations.TOKEN_FILE);
        try {
            return YAML_OUT.writeValueAsString(cfg);
        } catch (IOException e) {
            throw new IllegalStateException("a JSON tree always serialises", e);
        }
    }

    private ArrayNode patch(JsonNode pod, PodOptions o, String trustAnchorPem) {
        ArrayNode ops = F.arrayNode();
        if (!pod.path("metadata").isObject()) {
            add(ops, "/metadata", F.objectNode());
        }
        Map<String, String> annotations = new LinkedHashMap<>();
        annotations.put(Annotations.STATUS, Annotations.STATUS_INJECTED);
        JsonNode existing = pod.at("/metadata/annotations");
        if (!existing.has("prometheus.io/scrape")) {
            annotations.put("prometheus.io/scrape", "true");
            annotations.put("prometheus.io/port", Integer.toString(s.adminPort()));
            annotations.put("prometheus.io/path", "/metrics");
        }
        if (!existing.has("kubectl.kubernetes.io/default-container")) {
            annotations.put("kubectl.kubernetes.io/default-container", pod.at("/spec/containers/0/name").asText());
        }
        if (o.configMap == null) {
            annotations.put(Annotations.GENERATED_CONFIG, generate(o));
            annotations.put(Annotations.GENERATED_TRUST_ANCHOR, trustAnchorPem);
        }
        addEntries(ops, pod.at("/metadata/annotations"), "/metadata/annotations", annotations);
        addEntries(ops, pod.at("/metadata/labels"), "/metadata/labels", Map.of(Annotations.INJECTED_LABEL, "true"));

        List<JsonNode> volumes = List.of(configVolume(o), tokenVolume(), tmpVolume());
        if (!pod.at("/spec/volumes").isArray()) {
            add(ops, "/spec/volumes", F.arrayNode().addAll(volumes));
        } else {
            for (JsonNode v : volumes) {
                add(ops, "/spec/volumes/-", v);
            }
        }
        ObjectNode container = container(o);
        if (o.nativeSidecar) {
            if (!pod.at("/spec/initContainers").isArray()) {
                add(ops, "/spec/initContainers", F.arrayNode().add(container));
            } else {
                // First of the init containers: every later init container and the agent start after it is ready.
                add(ops, "/spec/initContainers/0", container);
            }
        } else {
            add(ops, "/spec/containers/-", container);
        }
        return ops;
    }

    private static void addEntries(ArrayNode ops, JsonNode existing, String path, Map<String, String> entries) {
        if (!existing.isObject()) {
            ObjectNode all = F.objectNode();
            entries.forEach(all::put);
            add(ops, path, all);
            return;
        }
        entries.forEach((k, v) -> add(ops, path + "/" + k.replace("~", "~0").replace("/", "~1"), F.textNode(v)));
    }

    private static void add(ArrayNode ops, String path, JsonNode value) {
        ops.addObject().put("op", "add").put("path", path).set("value", value);
    }

    private ObjectNode configVolume(PodOptions o) {
        ObjectNode v = F.objectNode().put("name", Annotations.VOLUME_CONFIG);
        if (o.configMap != null) {
            v.putObject("configMap").put("name", o.configMap).put("defaultMode", MODE_READ_ALL);
            return v;
        }
        ObjectNode d = v.putObject("downwardAPI").put("defaultMode", MODE_READ_ALL);
        ArrayNode items = d.putArray("items");
        items.addObject().put("path", "sidecar.yaml").putObject("fieldRef")
                .put("fieldPath", "metadata.annotations['" + Annotations.GENERATED_CONFIG + "']");
        items.addObject().put("path", "ca-bundle.pem").putObject("fieldRef")
                .put("fieldPath", "metadata.annotations['" + Annotations.GENERATED_TRUST_ANCHOR + "']");
        return v;
    }

    /**
     * The projected service-account token. Mode 0444: the volume is mounted only into the sidecar, which runs as its
     * own user, so without an fsGroup the kubelet's default 0600 root-owned file would be unreadable for it.
     */
    private ObjectNode tokenVolume() {
        ObjectNode v = F.objectNode().put("name", Annotations.VOLUME_TOKEN);
        ObjectNode p = v.putObject("projected").put("defaultMode", MODE_READ_ALL);
        p.putArray("sources").addObject().putObject("serviceAccountToken")
                .put("audience", s.tokenAudience())
                .put("expirationSeconds", s.tokenExpirationSeconds())
                .put("path", "token");
        return v;
    }

    private static ObjectNode tmpVolume() {
        ObjectNode v = F.objectNode().put("name", Annotations.VOLUME_TMP);
        v.putObject("emptyDir").put("sizeLimit", "64Mi");
        return v;
    }

    private ObjectNode container(PodOptions o) {
        ObjectNode c = F.objectNode();
        c.put("name", Annotations.CONTAINER);
        c.put("image", s.image());
        c.put("imagePullPolicy", s.imagePullPolicy());
        c.putArray("args").add("sidecar").add("--config").add(Annotations.CONFIG_FILE);
        if (!s.javaOpts().isBlank()) {
            c.putArray("env").addObject().put("name", "TOLLGATE_JAVA_OPTS").put("value", s.javaOpts());
        }
        ArrayNode ports = c.putArray("ports");
        ports.addObject().put("name", "tg-admin").put("containerPort", s.adminPort()).put("protocol", "TCP");
        if (o.appPort != null) {
            ports.addObject().put("name", "tg-ingress").put("containerPort", s.ingressPort()).put("protocol", "TCP");
        }
        if (o.nativeSidecar) {
            c.put("restartPolicy", "Always");
        }
        // With a native sidecar the kubelet starts the next containers only once this probe passes: the agent
        // starts after the sidecar holds its SVID.
        ObjectNode startup = probe(c.putObject("startupProbe"), "/readyz");
        startup.put("periodSeconds", 1).put("timeoutSeconds", 1).put("failureThreshold", s.startupTimeoutSeconds());
        probe(c.putObject("livenessProbe"), "/healthz").put("periodSeconds", 10).put("timeoutSeconds", 3).put("failureThreshold", 3);
        probe(c.putObject("readinessProbe"), "/readyz").put("periodSeconds", 2).put("timeoutSeconds", 2).put("failureThreshold", 2);
        ObjectNode sc = c.putObject("securityContext");
        sc.put("runAsNonRoot", true).put("runAsUser", s.runAsUser()).put("runAsGroup", s.runAsGroup())
                .put("allowPrivilegeEscalation", false).put("readOnlyRootFilesystem", true);
        sc.putObject("capabilities").putArray("drop").add("ALL");
        sc.putObject("seccompProfile").put("type", "RuntimeDefault");
        c.set("resources", s.resources().deepCopy());
        ArrayNode mounts = c.putArray("volumeMounts");
        mounts.addObject().put("name", Annotations.VOLUME_CONFIG).put("mountPath", Annotations.CONFIG_DIR).put("readOnly", true);
        mounts.addObject().put("name", Annotations.VOLUME_TOKEN).put("mountPath", Annotations.TOKEN_DIR).put("readOnly", true);
        mounts.addObject().put("name", Annotations.VOLUME_TMP).put("mountPath", "/tmp");
        c.put("terminationMessagePolicy", "FallbackToLogsOnError");
        return c;
    }

    private ObjectNode probe(ObjectNode p, String path) {
        p.putObject("httpGet").put("path", path).put("port", "tg-admin");
        return p;
    }
}
