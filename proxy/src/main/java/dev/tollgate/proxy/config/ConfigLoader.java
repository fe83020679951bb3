package dev.tollgate.proxy.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;

/**
 * Parses the sidecar's YAML file once into a {@link SidecarConfig}. Unknown keys, wrong types and out-of-range values
 * are all collected and reported together in one {@link ConfigException}, each as {@code path: value (expected: ...)}.
 */
public final class ConfigLoader {
    /** The largest configuration file accepted. */
    public static final int MAX_FILE_BYTES = 1024 * 1024;
    private static final int MAX_NESTING = 32;
    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h)");
    private static final Pattern SIZE = Pattern.compile("(\\d{1,10})(B|KiB|MiB)?");
    private static final Pattern UPSTREAM_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

    private final List<String> errors = new ArrayList<>();

    private ConfigLoader() {
    }

    public static SidecarConfig load(Path file) throws ConfigException {
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) {
                throw new ConfigException(List.of(file + ": " + size + " bytes (expected: <= " + MAX_FILE_BYTES + ")"));
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ConfigException(List.of(file + ": cannot be read (" + e.getMessage() + ")"));
        }
        return parse(new String(bytes, java.nio.charset.StandardCharsets.UTF_8), file.getParent());
    }

    /** Parses YAML text; relative file paths are resolved against {@code baseDir} when it is not null. */
    public static SidecarConfig parse(String yaml, Path baseDir) throws ConfigException {
        if (yaml.length() > MAX_FILE_BYTES) {
            throw new ConfigException(List.of("configuration: " + yaml.length() + " characters (expected: <= "
                    + MAX_FILE_BYTES + ")"));
        }
        YAMLFactory factory = YAMLFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING).build())
                .build();
        ObjectMapper mapper = new ObjectMapper(factory);
        mapper.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        JsonNode root;
        try {
            root = mapper.readTree(yaml);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigException(List.of("configuration is not valid YAML: " + e.getOriginalMessage()));
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw new ConfigException(List.of("configuration is empty"));
        }
        ConfigLoader loader = new ConfigLoader();
        SidecarConfig config = loader.root(root, baseDir);
        if (!loader.errors.isEmpty()) {
            throw new ConfigException(loader.errors);
        }
        return config;
    }

    private SidecarConfig root(JsonNode root, Path baseDir) {
        if (!object(root, "configuration")) {
            return null;
        }
        knownKeys(root, "", Set.of("listeners", "app", "tls", "identity", "upstreams", "limits", "drain-timeout",
                "worker-threads", "control-plane", "credentials", "policy", "inspection", "ingress"));
        boolean fromControlPlane = !root.path("control-plane").isMissingNode();
        SidecarConfig.Listeners listeners = listeners(root.path("listeners"));
        Optional<HostPort> app = optionalHostPort(root.path("app"), "app");
        SidecarConfig.Tls tls = tls(root.path("tls"), baseDir, fromControlPlane);
        SidecarConfig.Identity identity = identity(root.path("identity"));
        Map<String, SidecarConfig.Upstream> upstreams = upstreams(root.path("upstreams"), baseDir);
        SidecarConfig.Limits limits = limits(root.path("limits"));
        Duration drain = duration(root.path("drain-timeout"), "drain-timeout", ConfigDefaults.DRAIN_TIMEOUT, true);
        int workers = integer(root.path("worker-threads"), "worker-threads", ConfigDefaults.WORKER_THREADS, 0, 256);
        SidecarConfig.Credentials credentials = credentials(root.path("credentials"), upstreams);
        SidecarConfig.PolicySettings policy = policy(root.path("policy"), baseDir, fromControlPlane);
        SidecarConfig.Inspection inspection = inspection(root.path("inspection"), root.path("ingress"));

        if (limits != null && inspection != null) {
            SidecarConfig.BufferedBodies b = limits.bufferedBodies();
            if (b.maxPerConnection() < inspection.maxBody() || b.maxPerIdentity() < inspection.maxBody()
                    || b.maxTotal() > 0 && b.maxTotal() < inspection.maxBody()) {
                errors.add("limits.buffered-bodies: max-total " + (b.maxTotal() == 0 ? "auto" : b.maxTotal())
                        + ", max-per-connection " + b.maxPerConnection() + ", max-per-identity "
                        + b.maxPerIdentity() + " (expected: each >= inspection.max-body " + inspection.maxBody()
                        + ", or no body that large could ever be read)");
            }
        }
        if (listeners.ingress().isPresent() && app.isEmpty()) {
            errors.add("app: missing (expected: host:port of the local application, required by listeners.ingress)");
        }
        app.ifPresent(a -> {
            if (!a.isLoopback()) {
                errors.add("app: " + a + " (expected: a loopback address; the application runs beside the sidecar)");
            }
        });
        if (listeners.egress().isPresent() && root.path("upstreams").size() == 0) {
            errors.add("upstreams: none (expected: at least one upstream, required by listeners.egress)");
        }
        boolean mtls = listeners.ingress().isPresent() || listeners.l4().isPresent();
        if (mtls && identity.allowIds().isEmpty() && identity.allowTrustDomains().isEmpty()) {
            errors.add("identity.allow: empty (expected: at least one SPIFFE ID or trust domain; nobody could call)");
        }
        Optional<SidecarConfig.ControlPlane> controlPlane = fromControlPlane
                ? Optional.ofNullable(controlPlane(root.path("control-plane"), tls, baseDir)) : Optional.empty();
        if (!fromControlPlane) {
            upstreams.values().stream().filter(u -> u.inject().isPresent()).forEach(u -> errors.add("upstreams."
                    + u.name() + ".inject: set without control-plane (expected: a control-plane block; the secret "
                    + "and the exception that allows it come from the control plane)"));
        }
        Map<String, String> secretOwners = new LinkedHashMap<>();
        upstreams.values().stream().sorted(java.util.Comparator.comparingInt(SidecarConfig.Upstream::order))
                .forEach(u -> u.inject().ifPresent(i -> {
                    String prev = secretOwners.putIfAbsent(i.secret(), u.name());
                    if (prev != null) {
                        errors.add("upstreams." + u.name() + ".inject.secret: " + i.secret() + " (expected: unique; "
                                + "already used by upstreams." + prev + "; a secret is bound to one upstream)");
                    }
                }));
        controlPlane.ifPresent(cp -> stalenessFitsTheWatch(credentials, cp));
        return new SidecarConfig(listeners, app, tls, identity, upstreams, limits, drain, workers, controlPlane,
                credentials, policy, inspection);
    }

    private SidecarConfig.PolicySettings policy(JsonNode n, Path baseDir, boolean fromControlPlane) {
        SidecarConfig.PolicySettings d = SidecarConfig.PolicySettings.none();
        if (n.isMissingNode() || !object(n, "policy")) {
            return d;
        }
        knownKeys(n, "policy.", Set.of("file", "source", "required", "reload-interval"));
        boolean required = bool(n.path("required"), "policy.required", d.required());
        Duration interval = duration(n.path("reload-interval"), "policy.reload-interval", d.reloadInterval(), true);
        boolean hasFile = !n.path("file").isMissingNode();
        boolean hasSource = !n.path("source").isMissingNode();
        if (hasFile && hasSource) {
            errors.add("policy: both file and source (expected: exactly one; file: <path> or source: control-plane)");
            return d;
        }
        if (hasFile) {
            String f = text(n.path("file"), "policy.file");
            if (f == null || f.isBlank()) {
                if (f != null) {
                    errors.add("policy.file: empty (expected: a file path)");
                }
                return d;
            }
            return new SidecarConfig.PolicySettings(SidecarConfig.PolicyOrigin.FILE, Optional.of(resolve(f, baseDir)),
                    required, interval);
        }
        if (hasSource) {
            String src = text(n.path("source"), "policy.source");
            if (src == null) {
                return d;
            }
            if (!src.equals("control-plane")) {
                errors.add("policy.source: " + src + " (expected: control-plane; for a local file use policy.file)");
                return d;
            }
            if (!fromControlPlane) {
                errors.add("policy.source: control-plane needs the control-plane section (the policy comes over "
                        + "its watch stream)");
                return d;
            }
            return new SidecarConfig.PolicySettings(SidecarConfig.PolicyOrigin.CONTROL_PLANE, Optional.empty(),
                    required, interval);
        }
        errors.add("policy: neither file nor source (expected: file: <path> or source: control-plane)");
        return d;
    }

    private SidecarConfig.Credentials credentials(JsonNode n, Map<String, SidecarConfig.Upstream> upstreams) {
        SidecarConfig.Credentials d = SidecarConfig.Credentials.defaults();
        if (n.isMissingNode() || !object(n, "credentials")) {
            return d;
        }
        knownKeys(n, "credentials.", Set.of("required", "max-staleness", "clock-skew", "cache-size", "exempt",
                "upstream-tools"));
        boolean required = bool(n.path("required"), "credentials.required", d.required());
        Duration staleness = duration(n.path("max-staleness"), "credentials.max-staleness", d.maxStaleness(), true);
        Duration skew = duration(n.path("clock-skew"), "credentials.clock-skew", d.clockSkew(), false);
        if (skew != null && skew.compareTo(Duration.ofMinutes(5)) > 0) {
            errors.add("credentials.clock-skew: " + skew.toSeconds() + "s (expected: between 0s and 5m)");
        }
        int cacheSize = integer(n.path("cache-size"), "credentials.cache-size", d.cacheSize(), 1, 10_000_000);
        List<SidecarConfig.Exemption> exempt = new ArrayList<>();
        JsonNode ex = n.path("exempt");
        if (!ex.isMissingNode()) {
            if (!ex.isArray()) {
                errors.add("credentials.exempt: " + describe(ex) + " (expected: a list of {path-prefix, direction})");
            } else {
                for (int i = 0; i < ex.size(); i++) {
                    String p = "credentials.exempt[" + i + "]";
                    JsonNode e = ex.get(i);
                    if (!object(e, p)) {
                        continue;
                    }
                    knownKeys(e, p + ".", Set.of("path-prefix", "direction"));
                    String prefix = e.path("path-prefix").isMissingNode() ? null : text(e.path("path-prefix"), p + ".path-prefix");
                    if (prefix == null || !prefix.startsWith("/") || prefix.contains("..") || prefix.contains("//")) {
                        errors.add(p + ".path-prefix: " + describe(e.path("path-prefix"))
                                + " (expected: an absolute normalised path such as /healthz)");
                        continue;
                    }
                    String dir = e.path("direction").isMissingNode() ? null : text(e.path("direction"), p + ".direction");
                    dev.tollgate.proxy.metrics.Direction direction = "ingress".equals(dir)
                            ? dev.tollgate.proxy.metrics.Direction.INGRESS
                            : "egress".equals(dir) ? dev.tollgate.proxy.metrics.Direction.EGRESS : null;
                    if (direction == null) {
                        errors.add(p + ".direction: " + describe(e.path("direction")) + " (expected: ingress or egress)");
                        continue;
                    }
                    exempt.add(new SidecarConfig.Exemption(prefix, direction));
                }
            }
        }
        Map<String, List<String>> tools = new LinkedHashMap<>();
        JsonNode ut = n.path("upstream-tools");
        if (!ut.isMissingNode() && object(ut, "credentials.upstream-tools")) {
            for (Iterator<Map.Entry<String, JsonNode>> it = ut.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String p = "credentials.upstream-tools." + e.getKey();
                if (!upstreams.containsKey(e.getKey())) {
                    errors.add(p + ": unknown upstream (expected one of: "
                            + String.join(", ", upstreams.keySet().stream().sorted().toList()) + ")");
                    continue;
                }
                if (!e.getValue().isArray() || e.getValue().isEmpty()) {
                    errors.add(p + ": " + describe(e.getValue()) + " (expected: a non-empty list of tool names)");
                    continue;
                }
                List<String> names = new ArrayList<>();
                for (JsonNode t : e.getValue()) {
                    String name = text(t, p + "[]");
                    if (name != null && !dev.tollgate.api.token.ToolGrant.TOOL_NAME.matcher(name).matches()) {
                        errors.add(p + "[]: '" + name + "' (expected: a tool name, "
                                + dev.tollgate.api.token.ToolGrant.TOOL_NAME.pattern() + ")");
                    } else if (name != null) {
                        names.add(name);
                    }
                }
                tools.put(e.getKey(), List.copyOf(names));
            }
        }
        return new SidecarConfig.Credentials(required, staleness == null ? d.maxStaleness() : staleness,
                skew == null ? d.clockSkew() : skew, cacheSize, exempt, tools);
    }

    private SidecarConfig.Inspection inspection(JsonNode n, JsonNode ingress) {
        SidecarConfig.Inspection d = SidecarConfig.Inspection.defaults();
        SidecarConfig.Inspect app = SidecarConfig.Inspect.NONE;
        if (!ingress.isMissingNode() && object(ingress, "ingress")) {
            knownKeys(ingress, "ingress.", Set.of("inspection", "routes"));
            app = inspect(ingress.path("inspection"), ingress.path("routes"), "ingress");
        }
        if (n.isMissingNode() || !object(n, "inspection")) {
            return new SidecarConfig.Inspection(app, d.maxBody(), d.maxDepth(), d.maxBatch(), d.maxArguments(),
                    d.maxSseEvent(), d.maxSessions(), d.maxTasks(), d.maxTaskCalls());
        }
        knownKeys(n, "inspection.", Set.of("max-body", "max-depth", "max-batch", "max-arguments", "max-sse-event",
                "max-sessions", "max-tasks", "max-task-calls"));
        return new SidecarConfig.Inspection(app,
                size(n.path("max-body"), "inspection.max-body", d.maxBody(), 1024, 64 << 20),
                integer(n.path("max-depth"), "inspection.max-depth", d.maxDepth(), 4, 256),
                integer(n.path("max-batch"), "inspection.max-batch", d.maxBatch(), 1, 10_000),
                size(n.path("max-arguments"), "inspection.max-arguments", d.maxArguments(), 64, 64 << 20),
                size(n.path("max-sse-event"), "inspection.max-sse-event", d.maxSseEvent(), 1024, 64 << 20),
                integer(n.path("max-sessions"), "inspection.max-sessions", d.maxSessions(), 1, 10_000_000),
                integer(n.path("max-tasks"), "inspection.max-tasks", d.maxTasks(), 1, 10_000_000),
                integer(n.path("max-task-calls"), "inspection.max-task-calls", d.maxTaskCalls(), 1, 1_000_000));
    }

    private static final Pattern ROUTE_VARIABLE = Pattern.compile("\\{([A-Za-z_][A-Za-z0-9_]{0,63})\\}");
    private static final Pattern ROUTE_LITERAL = Pattern.compile("[A-Za-z0-9._~!$&'()*+,;=:@-]+");
    private static final Pattern HTTP_METHOD = Pattern.compile("[A-Z]{1,16}");
    private static final int MAX_ROUTES = 1000;

    /** {@code inspection: mcp | rest | none} and, for rest, {@code routes}. */
    private SidecarConfig.Inspect inspect(JsonNode mode, JsonNode routes, String p) {
        SidecarConfig.InspectionMode m = SidecarConfig.InspectionMode.NONE;
        if (!mode.isMissingNode()) {
            String t = text(mode, p + ".inspection");
            if (t != null) {
                switch (t) {
                    case "mcp" -> m = SidecarConfig.InspectionMode.MCP;
                    case "rest" -> m = SidecarConfig.InspectionMode.REST;
                    case "none" -> m = SidecarConfig.InspectionMode.NONE;
                    default -> errors.add(p + ".inspection: " + t + " (expected: mcp, rest or none)");
                }
            }
        }
        List<SidecarConfig.RestRoute> out = new ArrayList<>();
        if (routes.isMissingNode()) {
            if (m == SidecarConfig.InspectionMode.REST) {
                errors.add(p + ".routes: missing (expected: at least one route with inspection: rest)");
            }
            return new SidecarConfig.Inspect(m, out);
        }
        if (m != SidecarConfig.InspectionMode.REST) {
            errors.add(p + ".routes: set (expected: only with inspection: rest)");
            return new SidecarConfig.Inspect(m, out);
        }
        if (!routes.isArray() || routes.isEmpty() || routes.size() > MAX_ROUTES) {
            errors.add(p + ".routes: " + describe(routes) + " (expected: a list of 1 to " + MAX_ROUTES
                    + " {method, path, tool, arguments})");
            return new SidecarConfig.Inspect(m, out);
        }
        for (int i = 0; i < routes.size(); i++) {
            String rp = p + ".routes[" + i + "]";
            JsonNode r = routes.get(i);
            if (!object(r, rp)) {
                continue;
            }
            knownKeys(r, rp + ".", Set.of("method", "path", "tool", "arguments"));
            String method = r.path("method").isMissingNode() ? null : text(r.path("method"), rp + ".method");
            if (method == null || !HTTP_METHOD.matcher(method).matches()) {
                errors.add(rp + ".method: " + describe(r.path("method")) + " (expected: an upper-case HTTP method)");
                continue;
            }
            String path = r.path("path").isMissingNode() ? null : text(r.path("path"), rp + ".path");
            Set<String> variables = path == null ? null : routeVariables(path);
            if (variables == null) {
                errors.add(rp + ".path: " + describe(r.path("path")) + " (expected: an absolute path of literal "
                        + "segments and {name} variables, each variable once, like /customers/{id})");
                continue;
            }
            String tool = r.path("tool").isMissingNode() ? null : text(r.path("tool"), rp + ".tool");
            if (tool == null || !dev.tollgate.api.token.ToolGrant.TOOL_NAME.matcher(tool).matches()) {
                errors.add(rp + ".tool: " + describe(r.path("tool")) + " (expected: a tool name, "
                        + dev.tollgate.api.token.ToolGrant.TOOL_NAME.pattern() + ")");
                continue;
            }
            Map<String, SidecarConfig.ArgumentSource> args = new LinkedHashMap<>();
            JsonNode a = r.path("arguments");
            if (!a.isMissingNode() && object(a, rp + ".arguments")) {
                for (Map.Entry<String, JsonNode> e : a.properties()) {
                    String ap = rp + ".arguments." + e.getKey();
                    SidecarConfig.ArgumentSource src = argumentSource(e.getValue(), ap, variables);
                    if (src != null) {
                        args.put(e.getKey(), src);
                    }
                }
            }
            out.add(new SidecarConfig.RestRoute(method, path, tool, args));
        }
        return new SidecarConfig.Inspect(m, out);
    }

    /** The variables of a route path template, or null when it is not one. */
    private static Set<String> routeVariables(String path) {
        if (!path.startsWith("/") || path.length() > 1024) {
            return null;
        }
        Set<String> vars = new LinkedHashSet<>();
        if (path.equals("/")) {
            return vars;
        }
        for (String seg : path.substring(1).split("/", -1)) {
            Matcher v = ROUTE_VARIABLE.matcher(seg);
            if (v.matches()) {
                if (!vars.add(v.group(1))) {
                    return null;
                }
            } else if (!ROUTE_LITERAL.matcher(seg).matches() || seg.equals(".") || seg.equals("..")) {
                return null;
            }
        }
        return vars;
    }

    /** {@code path:<variable>}, {@code query:<parameter>} or {@code body:<JSON Pointer>}. */
    private SidecarConfig.ArgumentSource argumentSource(JsonNode n, String p, Set<String> variables) {
        String v = text(n, p);
        if (v == null) {
            return null;
        }
        if (v.startsWith("path:") && variables.contains(v.substring(5))) {
            return new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.PATH, v.substring(5));
        }
        if (v.startsWith("query:") && v.length() > 6 && v.length() <= 256 + 6) {
            return new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.QUERY, v.substring(6));
        }
        if (v.startsWith("body:/") && v.length() <= 256 + 5) {
            try {
                com.fasterxml.jackson.core.JsonPointer.compile(v.substring(5));
                return new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.BODY, v.substring(5));
            } catch (IllegalArgumentException ex) {
                // reported below
            }
        }
        errors.add(p + ": " + describe(n) + " (expected: path:<a variable of the route's path"
                + (variables.isEmpty() ? "" : ": " + String.join(", ", variables)) + ">, query:<parameter> or "
                + "body:<JSON Pointer such as /customer/id>)");
        return null;
    }

    private SidecarConfig.Listeners listeners(JsonNode n) {
        if (n.isMissingNode()) {
            errors.add("listeners: missing (expected: at least one of ingress, egress, admin, l4)");
            return new SidecarConfig.Listeners(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
        }
        if (!object(n, "listeners")) {
            return new SidecarConfig.Listeners(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
        }
        knownKeys(n, "listeners.", Set.of("ingress", "egress", "admin", "l4"));
        Optional<HostPort> ingress = listenerAddress(n.path("ingress"), "listeners.ingress",
                ConfigDefaults.INGRESS_ADDRESS, false);
        Optional<HostPort> egress = listenerAddress(n.path("egress"), "listeners.egress",
                ConfigDefaults.EGRESS_ADDRESS, true, Set.of("address", "http2-prior-knowledge"));
        boolean egressH2c = ConfigDefaults.EGRESS_HTTP2_PRIOR_KNOWLEDGE;
        JsonNode h2c = n.path("egress").path("http2-prior-knowledge");
        if (!h2c.isMissingNode()) {
            if (h2c.isBoolean()) {
                egressH2c = h2c.asBoolean();
            } else {
                errors.add("listeners.egress.http2-prior-knowledge: " + describe(h2c) + " (expected: true or false)");
            }
        }
        // The admin listener stays on loopback unless `expose: true` says it serves the pod's network (kubelet probes
        // and Prometheus reach a pod's IP, not its loopback); it only ever answers /healthz, /readyz and /metrics.
        JsonNode adminNode = n.path("admin");
        JsonNode expose = adminNode.path("expose");
        if (!expose.isMissingNode() && !expose.isBoolean()) {
            errors.add("listeners.admin.expose: " + describe(expose) + " (expected: true or false)");
        }
        Optional<HostPort> admin = listenerAddress(adminNode, "listeners.admin", ConfigDefaults.ADMIN_ADDRESS,
                !expose.asBoolean(false), Set.of("address", "expose"));
        Optional<SidecarConfig.L4> l4 = Optional.empty();
        JsonNode l4n = n.path("l4");
        if (!l4n.isMissingNode() && object(l4n, "listeners.l4")) {
            knownKeys(l4n, "listeners.l4.", Set.of("address", "target"));
            HostPort address = requiredHostPort(l4n.path("address"), "listeners.l4.address");
            HostPort target = requiredHostPort(l4n.path("target"), "listeners.l4.target");
            if (target != null && !target.isLoopback()) {
                errors.add("listeners.l4.target: " + target + " (expected: a loopback address)");
            }
            if (address != null && target != null) {
                l4 = Optional.of(new SidecarConfig.L4(address, target));
            }
        }
        if (ingress.isEmpty() && egress.isEmpty() && admin.isEmpty() && l4.isEmpty()) {
            errors.add("listeners: none (expected: at least one of ingress, egress, admin, l4)");
        }
        return new SidecarConfig.Listeners(ingress, egress, admin, l4, egressH2c);
    }

    /** A listener is started when its key is present; {@code {}} (or null) takes the default address. */
    private Optional<HostPort> listenerAddress(JsonNode n, String path, String defaultAddress, boolean loopbackOnly) {
        return listenerAddress(n, path, defaultAddress, loopbackOnly, Set.of("address"));
    }

    private Optional<HostPort> listenerAddress(JsonNode n, String path, String defaultAddress, boolean loopbackOnly,
                                               Set<String> keys) {
        if (n.isMissingNode()) {
            return Optional.empty();
        }
        if (n.isNull() || (n.isTextual() && n.asText().isEmpty())) {
            return Optional.of(HostPort.parse(defaultAddress));
        }
        if (!object(n, path)) {
            return Optional.empty();
        }
        knownKeys(n, path + ".", keys);
        HostPort hp = n.path("address").isMissingNode() ? HostPort.parse(defaultAddress)
                : hostPort(n.path("address"), path + ".address");
        if (hp != null && loopbackOnly && !hp.isLoopback()) {
            errors.add(path + ".address: " + hp + " (expected: a loopback address" + (path.equals("listeners.admin")
                    ? "; or expose: true to serve the pod's network, for kubelet probes and Prometheus" : "") + ")");
        }
        return Optional.ofNullable(hp);
    }

    private SidecarConfig.Tls tls(JsonNode n, Path baseDir, boolean fromControlPlane) {
        if (n.isMissingNode() && fromControlPlane) {
            return new SidecarConfig.Tls(null, null, null, ConfigDefaults.TLS_MIN_VERSION,
                    ConfigDefaults.TLS_HANDSHAKE_TIMEOUT, ConfigDefaults.TLS_RELOAD_INTERVAL, Optional.empty());
        }
        if (n.isMissingNode()) {
            errors.add("tls: missing (expected: cert, key and bundle file paths)");
            return null;
        }
        if (!object(n, "tls")) {
            return null;
        }
        knownKeys(n, "tls.", Set.of("cert", "key", "bundle", "min-version", "handshake-timeout", "reload-interval",
                "spiffe-id"));
        Path cert = null;
        Path key = null;
        Path bundle = null;
        if (fromControlPlane) {
            for (String file : List.of("cert", "key", "bundle")) {
                if (!n.path(file).isMissingNode()) {
                    errors.add("tls." + file + ": " + describe(n.path(file)) + " (expected: absent when control-plane "
                            + "is configured; the SVID and bundle come from the control plane)");
                }
            }
        } else {
            cert = requiredPath(n.path("cert"), "tls.cert", baseDir);
            key = requiredPath(n.path("key"), "tls.key", baseDir);
            bundle = requiredPath(n.path("bundle"), "tls.bundle", baseDir);
        }
        TlsVersion min = ConfigDefaults.TLS_MIN_VERSION;
        if (!n.path("min-version").isMissingNode()) {
            String v = text(n.path("min-version"), "tls.min-version");
            if (v != null) {
                try {
                    min = TlsVersion.fromConfig(v);
                } catch (IllegalArgumentException e) {
                    errors.add("tls.min-version: " + e.getMessage());
                }
            }
        }
        Duration hs = duration(n.path("handshake-timeout"), "tls.handshake-timeout",
                ConfigDefaults.TLS_HANDSHAKE_TIMEOUT, true);
        Duration reload = duration(n.path("reload-interval"), "tls.reload-interval",
                ConfigDefaults.TLS_RELOAD_INTERVAL, true);
        Optional<SpiffeId> id = Optional.empty();
        if (!n.path("spiffe-id").isMissingNode()) {
            id = Optional.ofNullable(spiffeId(n.path("spiffe-id"), "tls.spiffe-id"));
        }
        return new SidecarConfig.Tls(cert, key, bundle, min, hs, reload, id);
    }

    /**
     * A watch stream that stops delivering is noticed after three missed heartbeats and reopened after at most
     * backoff-initial (the backoff restarts after every good line), and the new stream's first line comes at once:
     * that must all fit in max-staleness, or a silent connection makes the revocation state stale (every credentialed
     * request denied) while the control plane is reachable.
     */
    private void stalenessFitsTheWatch(SidecarConfig.Credentials credentials, SidecarConfig.ControlPlane cp) {
        Duration worst = cp.heartbeatInterval().multipliedBy(dev.tollgate.api.client.WatchClient.MISSED_HEARTBEATS)
                .plus(cp.backoffInitial());
        if (credentials.maxStaleness().compareTo(worst) <= 0) {
            errors.add("credentials.max-staleness: " + credentials.maxStaleness().toMillis() + "ms (expected: more "
                    + "than 3 x control-plane.heartbeat-interval + control-plane.backoff-initial = " + worst.toMillis()
                    + "ms, so that a silent watch stream is replaced before the revocation state goes stale; lower "
                    + "the control plane's watch.heartbeat-interval and control-plane.heartbeat-interval, or raise "
                    + "max-staleness)");
        }
    }

    private SidecarConfig.ControlPlane controlPlane(JsonNode n, SidecarConfig.Tls tls, Path baseDir) {
        if (!object(n, "control-plane")) {
            return null;
        }
        knownKeys(n, "control-plane.", Set.of("url", "server-id", "trust-anchor", "join-token-file",
                "k8s-token-file", "k8s-cluster", "renewal-fraction", "renewal-min-delay", "renewal-max-delay", "rotate-key", "request-timeout",
                "backoff-initial", "backoff-max", "heartbeat-interval", "decision-log", "join-timeout"));
        java.net.URI url = null;
        if (n.path("url").isMissingNode()) {
            errors.add("control-plane.url: missing (expected: https://host:port of the control plane's API)");
        } else {
            String t = text(n.path("url"), "control-plane.url");
            if (t != null) {
                try {
                    url = new java.net.URI(t);
                    if (!"https".equals(url.getScheme()) || url.getHost() == null) {
                        errors.add("control-plane.url: " + t + " (expected: an https:// URL with a host)");
                        url = null;
                    }
                } catch (java.net.URISyntaxException e) {
                    errors.add("control-plane.url: " + t + " (expected: a URL; " + e.getReason() + ")");
                }
            }
        }
        SpiffeId serverId = null;
        if (!n.path("server-id").isMissingNode()) {
            serverId = spiffeId(n.path("server-id"), "control-plane.server-id");
        } else if (tls != null && tls.spiffeId().isPresent()) {
            serverId = SpiffeId.parse("spiffe://" + tls.spiffeId().get().trustDomain()
                    + ConfigDefaults.CONTROL_PLANE_SERVER_PATH);
        } else {
            errors.add("control-plane.server-id: missing (expected: the control plane's SPIFFE ID, or tls.spiffe-id "
                    + "so that spiffe://<its trust domain>" + ConfigDefaults.CONTROL_PLANE_SERVER_PATH
                    + " is the default)");
        }
        Path anchor = requiredPath(n.path("trust-anchor"), "control-plane.trust-anchor", baseDir);
        Optional<Path> tokenFile = Optional.empty();
        if (!n.path("join-token-file").isMissingNode()) {
            String t = text(n.path("join-token-file"), "control-plane.join-token-file");
            tokenFile = t == null ? Optional.empty() : Optional.of(resolve(t, baseDir));
        }
        // Kubernetes attestation; an empty k8s-token-file or k8s-cluster is the same as none.
        Optional<SidecarConfig.K8sAttestation> k8s = Optional.empty();
        String k8sCluster = n.path("k8s-cluster").isMissingNode() ? null
                : text(n.path("k8s-cluster"), "control-plane.k8s-cluster");
        if (!n.path("k8s-token-file").isMissingNode()) {
            String t = text(n.path("k8s-token-file"), "control-plane.k8s-token-file");
            if (t != null && !t.isEmpty()) {
                if (tokenFile.isPresent()) {
                    errors.add("control-plane.k8s-token-file: set together with join-token-file (expected: one of "
                            + "them; a pod attests with its service-account token, anything else joins with a join "
                            + "token)");
                }
                Optional<String> cluster = Optional.ofNullable(k8sCluster).filter(c -> !c.isEmpty());
                if (cluster.isPresent() && !cluster.get().matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
                    errors.add("control-plane.k8s-cluster: '" + cluster.get() + "' (expected: a cluster name of the "
                            + "control plane's k8s-attestation.clusters)");
                }
                k8s = Optional.of(new SidecarConfig.K8sAttestation(resolve(t, baseDir), cluster));
            }
        }
        if (k8s.isEmpty() && k8sCluster != null && !k8sCluster.isEmpty()) {
            errors.add("control-plane.k8s-cluster: set without k8s-token-file");
        }
        double fraction = ConfigDefaults.RENEWAL_FRACTION;
        JsonNode f = n.path("renewal-fraction");
        if (!f.isMissingNode()) {
            if (!f.isNumber() || f.asDouble() < 0.1 || f.asDouble() > 0.9) {
                errors.add("control-plane.renewal-fraction: " + describe(f) + " (expected: a number in [0.1, 0.9])");
            } else {
                fraction = f.asDouble();
            }
        }
        Duration min = duration(n.path("renewal-min-delay"), "control-plane.renewal-min-delay",
                ConfigDefaults.RENEWAL_MIN_DELAY, true);
        Duration max = duration(n.path("renewal-max-delay"), "control-plane.renewal-max-delay",
                ConfigDefaults.RENEWAL_MAX_DELAY, true);
        if (max.compareTo(min) < 0) {
            errors.add("control-plane.renewal-max-delay: " + max.toMillis() + "ms (expected: >= renewal-min-delay "
                    + min.toMillis() + "ms)");
        }
        boolean rotateKey = ConfigDefaults.ROTATE_KEY;
        JsonNode rk = n.path("rotate-key");
        if (!rk.isMissingNode()) {
            if (!rk.isBoolean()) {
                errors.add("control-plane.rotate-key: " + describe(rk) + " (expected: true or false)");
            } else {
                rotateKey = rk.asBoolean();
            }
        }
        Duration timeout = duration(n.path("request-timeout"), "control-plane.request-timeout",
                ConfigDefaults.CONTROL_PLANE_REQUEST_TIMEOUT, true);
        Duration bInit = duration(n.path("backoff-initial"), "control-plane.backoff-initial",
                ConfigDefaults.CONTROL_PLANE_BACKOFF_INITIAL, true);
        Duration bMax = duration(n.path("backoff-max"), "control-plane.backoff-max",
                ConfigDefaults.CONTROL_PLANE_BACKOFF_MAX, true);
        if (bMax.compareTo(bInit) < 0) {
            errors.add("control-plane.backoff-max: " + bMax.toMillis() + "ms (expected: >= backoff-initial "
                    + bInit.toMillis() + "ms)");
        }
        Duration heartbeat = duration(n.path("heartbeat-interval"), "control-plane.heartbeat-interval",
                ConfigDefaults.WATCH_HEARTBEAT_INTERVAL, true);
        Duration joinTimeout = duration(n.path("join-timeout"), "control-plane.join-timeout",
                ConfigDefaults.JOIN_TIMEOUT, false);
        return new SidecarConfig.ControlPlane(url, serverId, anchor, tokenFile, fraction, min, max, rotateKey,
                timeout, bInit, bMax, heartbeat, decisionLog(n.path("decision-log")), joinTimeout, k8s);
    }

    private SidecarConfig.DecisionLog decisionLog(JsonNode n) {
        SidecarConfig.DecisionLog d = SidecarConfig.DecisionLog.defaults();
        if (n.isMissingNode() || !object(n, "control-plane.decision-log")) {
            return d;
        }
        knownKeys(n, "control-plane.decision-log.", Set.of("buffer-size", "batch-size", "max-batch-bytes",
                "flush-interval", "aggregate-keys"));
        int buffer = integer(n.path("buffer-size"), "control-plane.decision-log.buffer-size", d.bufferSize(), 1,
                10_000_000);
        int batch = integer(n.path("batch-size"), "control-plane.decision-log.batch-size", d.batchSize(), 1, 1000);
        int bytes = size(n.path("max-batch-bytes"), "control-plane.decision-log.max-batch-bytes", d.maxBatchBytes(),
                4096, 16 << 20);
        Duration flush = duration(n.path("flush-interval"), "control-plane.decision-log.flush-interval",
                d.flushInterval(), true);
        if (flush != null && (flush.toMillis() < 10 || flush.compareTo(Duration.ofMinutes(1)) > 0)) {
            errors.add("control-plane.decision-log.flush-interval: " + flush.toMillis()
                    + "ms (expected: between 10ms and 1m)");
        }
        int keys = integer(n.path("aggregate-keys"), "control-plane.decision-log.aggregate-keys", d.aggregateKeys(), 1,
                100_000);
        return new SidecarConfig.DecisionLog(buffer, batch, bytes, flush == null ? d.flushInterval() : flush, keys);
    }

    private SidecarConfig.Identity identity(JsonNode n) {
        Set<SpiffeId> ids = new LinkedHashSet<>();
        Set<String> domains = new LinkedHashSet<>();
        if (n.isMissingNode() || !object(n, "identity")) {
            return new SidecarConfig.Identity(ids, domains);
        }
        knownKeys(n, "identity.", Set.of("allow"));
        JsonNode allow = n.path("allow");
        if (allow.isMissingNode()) {
            return new SidecarConfig.Identity(ids, domains);
        }
        if (!allow.isArray()) {
            errors.add("identity.allow: " + describe(allow) + " (expected: a list of SPIFFE IDs or trust-domain entries)");
            return new SidecarConfig.Identity(ids, domains);
        }
        for (int i = 0; i < allow.size(); i++) {
            JsonNode e = allow.get(i);
            String p = "identity.allow[" + i + "]";
            if (e.isTextual()) {
                SpiffeId id = spiffeId(e, p);
                if (id != null && !ids.add(id)) {
                    errors.add(p + ": " + id + " (expected: each SPIFFE ID once)");
                }
            } else if (e.isObject()) {
                knownKeys(e, p + ".", Set.of("trust-domain"));
                String td = text(e.path("trust-domain"), p + ".trust-domain");
                if (td != null) {
                    try {
                        domains.add(SpiffeId.requireTrustDomain(td));
                    } catch (InvalidSpiffeIdException ex) {
                        errors.add(p + ".trust-domain: " + td + " (expected: a trust domain name; " + ex.getMessage() + ")");
                    }
                }
            } else {
                errors.add(p + ": " + describe(e) + " (expected: a SPIFFE ID or {trust-domain: <name>})");
            }
        }
        return new SidecarConfig.Identity(ids, domains);
    }

    private Map<String, SidecarConfig.Upstream> upstreams(JsonNode n, Path baseDir) {
        Map<String, SidecarConfig.Upstream> out = new LinkedHashMap<>();
        if (n.isMissingNode() || !object(n, "upstreams")) {
            return out;
        }
        int order = 0;
        Map<String, String> hostOwners = new LinkedHashMap<>();
        Map<String, String> prefixOwners = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : n.properties()) {
            String name = e.getKey();
            String p = "upstreams." + name;
            if (!UPSTREAM_NAME.matcher(name).matches()) {
                errors.add(p + ": invalid name (expected: [a-z0-9][a-z0-9_-]*, at most 63 characters)");
            }
            JsonNode u = e.getValue();
            if (!object(u, p)) {
                continue;
            }
            knownKeys(u, p + ".", Set.of("address", "spiffe-id", "tls", "roots", "match", "connect-timeout",
                    "idle-timeout", "request-timeout", "pool-size", "inspection", "routes", "inject"));
            HostPort address = requiredHostPort(u.path("address"), p + ".address");
            SidecarConfig.UpstreamTls tls = upstreamTls(u, p, baseDir);
            SidecarConfig.Match match = match(u.path("match"), p + ".match");
            match.host().ifPresent(h -> {
                String prev = hostOwners.putIfAbsent(h, name);
                if (prev != null) {
                    errors.add(p + ".match.host: " + h + " (expected: unique; already used by upstreams." + prev + ")");
                }
            });
            match.pathPrefix().ifPresent(pp -> {
                String prev = prefixOwners.putIfAbsent(pp, name);
                if (prev != null) {
                    errors.add(p + ".match.path-prefix: " + pp + " (expected: unique; already used by upstreams."
                            + prev + ")");
                }
            });
            Duration connect = duration(u.path("connect-timeout"), p + ".connect-timeout",
                    ConfigDefaults.UPSTREAM_CONNECT_TIMEOUT, true);
            Duration idle = duration(u.path("idle-timeout"), p + ".idle-timeout", ConfigDefaults.UPSTREAM_IDLE_TIMEOUT,
                    true);
            Duration request = duration(u.path("request-timeout"), p + ".request-timeout",
                    ConfigDefaults.UPSTREAM_REQUEST_TIMEOUT, true);
            int pool = integer(u.path("pool-size"), p + ".pool-size", ConfigDefaults.UPSTREAM_POOL_SIZE, 1, 100_000);
            SidecarConfig.Inspect inspect = inspect(u.path("inspection"), u.path("routes"), p);
            Optional<SidecarConfig.Inject> inject = inject(u.path("inject"), p + ".inject", tls);
            if (address != null && tls != null) {
                out.put(name, new SidecarConfig.Upstream(name, order++, address, tls, match, connect, idle, request,
                        pool, inspect, inject));
            }
        }
        return out;
    }

    /** Upstream secret names as the control plane accepts them. */
    private static final Pattern SECRET_NAME = Pattern.compile("[a-z0-9._-]{1,64}");
    /** A header field name (RFC 9110 token). */
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}");
    /** Headers an injected credential must never take: framing, routing and Tollgate's own. */
    private static final Set<String> RESERVED_HEADERS = Set.of("host", "content-length", "transfer-encoding",
            "connection", "upgrade", "te", "trailer", "keep-alive", "proxy-connection", "expect", "cookie",
            "tollgate-token", "x-forwarded-client-cert", "proxy-authorization");

    /** {@code upstreams.<name>.inject}: see {@link SidecarConfig.Inject}. */
    private Optional<SidecarConfig.Inject> inject(JsonNode n, String p, SidecarConfig.UpstreamTls tls) {
        if (n.isMissingNode() || !object(n, p)) {
            return Optional.empty();
        }
        knownKeys(n, p + ".", Set.of("secret", "as", "header", "prefix", "username"));
        int before = errors.size();
        if (tls != null && !(tls instanceof SidecarConfig.ExternalTls)) {
            errors.add(p + ": set on a " + (tls instanceof SidecarConfig.SpiffeTls ? "SPIFFE" : "plain-text")
                    + " upstream (expected: only with tls: external; a Tollgate-fronted upstream takes exchanged "
                    + "tokens, and a secret never travels in clear text)");
        }
        String secret = null;
        if (n.path("secret").isMissingNode()) {
            errors.add(p + ".secret: missing (expected: the name of an upstream secret in the control plane)");
        } else {
            secret = text(n.path("secret"), p + ".secret");
            if (secret != null && !SECRET_NAME.matcher(secret).matches()) {
                errors.add(p + ".secret: " + secret + " (expected: 1-64 of lowercase letters, digits, '.', '-', '_')");
            }
        }
        SidecarConfig.InjectAs as = SidecarConfig.InjectAs.HEADER;
        if (!n.path("as").isMissingNode()) {
            String a = text(n.path("as"), p + ".as");
            if ("basic".equals(a)) {
                as = SidecarConfig.InjectAs.BASIC;
            } else if (a != null && !a.equals("header")) {
                errors.add(p + ".as: " + a + " (expected: header or basic)");
            }
        }
        String header = SidecarConfig.Inject.DEFAULT_HEADER;
        String prefix = "";
        Optional<String> username = Optional.empty();
        if (as == SidecarConfig.InjectAs.HEADER) {
            if (!n.path("username").isMissingNode()) {
                errors.add(p + ".username: set (expected: only with as: basic)");
            }
            if (!n.path("header").isMissingNode()) {
                header = text(n.path("header"), p + ".header");
                if (header != null && (!HEADER_NAME.matcher(header).matches()
                        || RESERVED_HEADERS.contains(header.toLowerCase(java.util.Locale.ROOT)))) {
                    errors.add(p + ".header: " + header + " (expected: a header name other than "
                            + String.join(", ", RESERVED_HEADERS.stream().sorted().toList()) + ")");
                }
            }
            if (!n.path("prefix").isMissingNode()) {
                prefix = text(n.path("prefix"), p + ".prefix");
                if (prefix != null && (prefix.length() > 64 || !prefix.chars().allMatch(c -> c >= 0x20 && c < 0x7f))) {
                    errors.add(p + ".prefix: (expected: at most 64 visible ASCII characters or spaces)");
                }
            }
        } else {
            if (!n.path("header").isMissingNode() || !n.path("prefix").isMissingNode()) {
                errors.add(p + ": header or prefix set (expected: neither with as: basic; it sets Authorization)");
            }
            if (n.path("username").isMissingNode()) {
                errors.add(p + ".username: missing (expected: the user name, required by as: basic)");
            } else {
                String user = text(n.path("username"), p + ".username");
                if (user != null && (user.isEmpty() || user.length() > 256 || user.contains(":")
                        || !user.chars().allMatch(c -> c > 0x20 && c < 0x7f))) {
                    errors.add(p + ".username: " + user + " (expected: 1-256 visible ASCII characters, no ':')");
                }
                username = Optional.ofNullable(user);
            }
        }
        if (errors.size() > before || secret == null || header == null || prefix == null) {
            return Optional.empty();
        }
        return Optional.of(new SidecarConfig.Inject(secret, as, header, prefix, username));
    }

    private SidecarConfig.UpstreamTls upstreamTls(JsonNode u, String p, Path baseDir) {
        JsonNode id = u.path("spiffe-id");
        JsonNode tls = u.path("tls");
        if (!tls.isMissingNode()) {
            String mode = text(tls, p + ".tls");
            if (mode == null) {
                return null;
            }
            if (!mode.equals("external")) {
                errors.add(p + ".tls: " + mode + " (expected: external, or omit it and set spiffe-id)");
                return null;
            }
            if (!id.isMissingNode()) {
                errors.add(p + ": both spiffe-id and tls: external (expected: one of them)");
                return null;
            }
            JsonNode roots = u.path("roots");
            if (roots.isMissingNode()) {
                return new SidecarConfig.ExternalTls(Optional.empty());
            }
            String r = text(roots, p + ".roots");
            if (r == null) {
                return null;
            }
            if (r.equals("system")) {
                return new SidecarConfig.ExternalTls(Optional.empty());
            }
            Path path = resolve(r, baseDir);
            if (!Files.isReadable(path)) {
                errors.add(p + ".roots: " + r + " (expected: system, or a readable PEM file)");
            }
            return new SidecarConfig.ExternalTls(Optional.of(path));
        }
        if (!u.path("roots").isMissingNode()) {
            errors.add(p + ".roots: set (expected: only with tls: external)");
        }
        if (id.isMissingNode()) {
            errors.add(p + ".spiffe-id: missing (expected: the upstream's SPIFFE ID, or tls: external)");
            return null;
        }
        SpiffeId sid = spiffeId(id, p + ".spiffe-id");
        return sid == null ? null : new SidecarConfig.SpiffeTls(sid);
    }

    private SidecarConfig.Match match(JsonNode n, String p) {
        if (n.isMissingNode()) {
            return new SidecarConfig.Match(Optional.empty(), Optional.empty());
        }
        if (!object(n, p)) {
            return new SidecarConfig.Match(Optional.empty(), Optional.empty());
        }
        knownKeys(n, p + ".", Set.of("host", "path-prefix"));
        Optional<String> host = Optional.empty();
        Optional<String> prefix = Optional.empty();
        if (!n.path("host").isMissingNode()) {
            String h = text(n.path("host"), p + ".host");
            if (h != null) {
                if (!h.matches("[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")) {
                    errors.add(p + ".host: " + h + " (expected: a lowercase host name without port)");
                } else {
                    host = Optional.of(h);
                }
            }
        }
        if (!n.path("path-prefix").isMissingNode()) {
            String pp = text(n.path("path-prefix"), p + ".path-prefix");
            if (pp != null) {
                if (!pp.startsWith("/") || pp.contains("..") || pp.contains("?") || pp.contains("#")) {
                    errors.add(p + ".path-prefix: " + pp + " (expected: an absolute path starting with '/')");
                } else {
                    prefix = Optional.of(pp);
                }
            }
        }
        if (host.isPresent() && prefix.isPresent()) {
            errors.add(p + ": both host and path-prefix (expected: one of them)");
        }
        return new SidecarConfig.Match(host, prefix);
    }

    private SidecarConfig.Limits limits(JsonNode n) {
        SidecarConfig.Limits d = SidecarConfig.Limits.defaults();
        if (n.isMissingNode()) {
            return d;
        }
        if (!object(n, "limits")) {
            return d;
        }
        knownKeys(n, "limits.", Set.of("max-initial-line", "max-header-size", "max-header-count", "max-chunk-size",
                "max-buffered-body", "max-connections", "max-connections-per-peer", "header-read-timeout",
                "idle-timeout", "send-timeout", "http2", "buffered-bodies"));
        JsonNode h2 = n.path("http2");
        if (!h2.isMissingNode() && object(h2, "limits.http2")) {
            knownKeys(h2, "limits.http2.", Set.of("max-concurrent-streams", "max-header-list-size",
                    "max-rst-frames-per-window", "rst-window", "max-small-continuation-frames",
                    "initial-window-size", "connection-window-size"));
        }
        // RFC 9113 §6.9.1: a window is at most 2^31-1; a stream window below the default 64 KiB only slows streams.
        int h2Window = size(h2.path("initial-window-size"), "limits.http2.initial-window-size",
                d.h2InitialWindowSize(), 65_535, Integer.MAX_VALUE);
        int h2ConnectionWindow = size(h2.path("connection-window-size"), "limits.http2.connection-window-size",
                d.h2ConnectionWindowSize(), 65_535, Integer.MAX_VALUE);
        if (h2ConnectionWindow < h2Window) {
            errors.add("limits.http2.connection-window-size: " + h2ConnectionWindow + " (expected: >= "
                    + "limits.http2.initial-window-size, " + h2Window + ", or one stream can never use its window)");
        }
        Duration rstWindow = duration(h2.path("rst-window"), "limits.http2.rst-window",
                Duration.ofSeconds(d.h2RstWindowSeconds()), true);
        return new SidecarConfig.Limits(
                size(n.path("max-initial-line"), "limits.max-initial-line", d.maxInitialLine(), 256, 1 << 20),
                size(n.path("max-header-size"), "limits.max-header-size", d.maxHeaderSize(), 1024, 1 << 20),
                integer(n.path("max-header-count"), "limits.max-header-count", d.maxHeaderCount(), 1, 10_000),
                size(n.path("max-chunk-size"), "limits.max-chunk-size", d.maxChunkSize(), 1024, 16 << 20),
                size(n.path("max-buffered-body"), "limits.max-buffered-body", d.maxBufferedBody(), 1024, 64 << 20),
                integer(n.path("max-connections"), "limits.max-connections", d.maxConnections(), 1, 1_000_000),
                integer(n.path("max-connections-per-peer"), "limits.max-connections-per-peer",
                        d.maxConnectionsPerPeer(), 1, 1_000_000),
                duration(n.path("header-read-timeout"), "limits.header-read-timeout", d.headerReadTimeout(), true),
                duration(n.path("idle-timeout"), "limits.idle-timeout", d.idleTimeout(), true),
                duration(n.path("send-timeout"), "limits.send-timeout", d.sendTimeout(), true),
                integer(h2.path("max-concurrent-streams"), "limits.http2.max-concurrent-streams",
                        d.h2MaxConcurrentStreams(), 1, 10_000),
                size(h2.path("max-header-list-size"), "limits.http2.max-header-list-size", d.h2MaxHeaderListSize(),
                        1024, 1 << 20),
                integer(h2.path("max-rst-frames-per-window"), "limits.http2.max-rst-frames-per-window",
                        d.h2MaxRstFramesPerWindow(), 1, 1_000_000),
                (int) Math.max(1, rstWindow == null ? d.h2RstWindowSeconds() : rstWindow.toSeconds()),
                integer(h2.path("max-small-continuation-frames"), "limits.http2.max-small-continuation-frames",
                        d.h2MaxSmallContinuationFrames(), 1, 1000),
                h2Window, h2ConnectionWindow,
                bufferedBodies(n.path("buffered-bodies")));
    }

    private SidecarConfig.BufferedBodies bufferedBodies(JsonNode n) {
        SidecarConfig.BufferedBodies d = SidecarConfig.BufferedBodies.defaults();
        if (n.isMissingNode() || !object(n, "limits.buffered-bodies")) {
            return d;
        }
        knownKeys(n, "limits.buffered-bodies.", Set.of("max-total", "max-per-connection", "max-per-identity",
                "read-timeout", "min-rate", "rate-window"));
        JsonNode total = n.path("max-total");
        int maxTotal = total.isTextual() && total.asText().equals("auto") ? 0
                : size(total, "limits.buffered-bodies.max-total", d.maxTotal(), 64 * 1024, 1 << 30);
        return new SidecarConfig.BufferedBodies(maxTotal,
                size(n.path("max-per-connection"), "limits.buffered-bodies.max-per-connection", d.maxPerConnection(),
                        1024, 1 << 30),
                size(n.path("max-per-identity"), "limits.buffered-bodies.max-per-identity", d.maxPerIdentity(), 1024,
                        1 << 30),
                duration(n.path("read-timeout"), "limits.buffered-bodies.read-timeout", d.readTimeout(), true),
                size(n.path("min-rate"), "limits.buffered-bodies.min-rate", d.minRate(), 0, 1 << 30),
                duration(n.path("rate-window"), "limits.buffered-bodies.rate-window", d.rateWindow(), true));
    }

    // ---- value readers: each records an error and returns a harmless value on failure ----

    private boolean object(JsonNode n, String path) {
        if (!n.isObject()) {
            errors.add(path + ": " + describe(n) + " (expected: a mapping)");
            return false;
        }
        return true;
    }

    private void knownKeys(JsonNode n, String prefix, Set<String> known) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) {
                errors.add(prefix + k + ": unknown option (expected one of: " + String.join(", ", known.stream().sorted().toList()) + ")");
            }
        }
    }

    private boolean bool(JsonNode n, String path, boolean dflt) {
        if (n.isMissingNode()) {
            return dflt;
        }
        if (!n.isBoolean()) {
            errors.add(path + ": " + describe(n) + " (expected: true or false)");
            return dflt;
        }
        return n.asBoolean();
    }

    private String text(JsonNode n, String path) {
        if (!n.isTextual()) {
            errors.add(path + ": " + describe(n) + " (expected: a string)");
            return null;
        }
        return n.asText();
    }

    private HostPort requiredHostPort(JsonNode n, String path) {
        if (n.isMissingNode()) {
            errors.add(path + ": missing (expected: host:port)");
            return null;
        }
        return hostPort(n, path);
    }

    private Optional<HostPort> optionalHostPort(JsonNode n, String path) {
        return n.isMissingNode() ? Optional.empty() : Optional.ofNullable(hostPort(n, path));
    }

    private HostPort hostPort(JsonNode n, String path) {
        String t = text(n, path);
        if (t == null) {
            return null;
        }
        try {
            return HostPort.parse(t);
        } catch (IllegalArgumentException e) {
            errors.add(path + ": " + e.getMessage());
            return null;
        }
    }

    private Path requiredPath(JsonNode n, String path, Path baseDir) {
        if (n.isMissingNode()) {
            errors.add(path + ": missing (expected: a file path)");
            return null;
        }
        String t = text(n, path);
        return t == null ? null : resolve(t, baseDir);
    }

    private static Path resolve(String t, Path baseDir) {
        Path p = Path.of(t);
        return p.isAbsolute() || baseDir == null ? p : baseDir.resolve(p);
    }

    private SpiffeId spiffeId(JsonNode n, String path) {
        String t = text(n, path);
        if (t == null) {
            return null;
        }
        try {
            return SpiffeId.parse(t);
        } catch (InvalidSpiffeIdException e) {
            errors.add(path + ": " + t + " (expected: a SPIFFE ID; " + e.getMessage() + ")");
            return null;
        }
    }

    private Duration duration(JsonNode n, String path, Duration dflt, boolean positive) {
        if (n.isMissingNode()) {
            return dflt;
        }
        String t = n.isNumber() ? n.asText() : text(n, path);
        if (t == null) {
            return dflt;
        }
        Matcher m = DURATION.matcher(t);
        if (!m.matches()) {
            errors.add(path + ": " + t + " (expected: a duration like 500ms, 10s, 5m or 1h)");
            return dflt;
        }
        long v = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(v);
            case "s" -> Duration.ofSeconds(v);
            case "m" -> Duration.ofMinutes(v);
            default -> Duration.ofHours(v);
        };
        if (positive && d.isZero()) {
            errors.add(path + ": " + t + " (expected: > 0)");
            return dflt;
        }
        return d;
    }

    private int integer(JsonNode n, String path, int dflt, int min, int max) {
        if (n.isMissingNode()) {
            return dflt;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            errors.add(path + ": " + describe(n) + " (expected: an integer)");
            return dflt;
        }
        return range(path, n.asInt(), dflt, min, max);
    }

    private int size(JsonNode n, String path, int dflt, int min, int max) {
        if (n.isMissingNode()) {
            return dflt;
        }
        if (n.isIntegralNumber() && n.canConvertToInt()) {
            return range(path, n.asInt(), dflt, min, max);
        }
        Matcher m = n.isTextual() ? SIZE.matcher(n.asText()) : null;
        if (m == null || !m.matches()) {
            errors.add(path + ": " + describe(n) + " (expected: a size like 8192, 16KiB or 1MiB)");
            return dflt;
        }
        long v = Long.parseLong(m.group(1));
        String unit = m.group(2);
        long bytes = unit == null || unit.equals("B") ? v : unit.equals("KiB") ? v * 1024 : v * 1024 * 1024;
        if (bytes > Integer.MAX_VALUE) {
            errors.add(path + ": " + n.asText() + " (expected: <= " + max + ")");
            return dflt;
        }
        return range(path, (int) bytes, dflt, min, max);
    }

    private int range(String path, int v, int dflt, int min, int max) {
        if (v < min) {
            errors.add(path + ": " + v + " (expected: " + (min == 1 ? "> 0" : ">= " + min) + ")");
            return dflt;
        }
        if (v > max) {
            errors.add(path + ": " + v + " (expected: <= " + max + ")");
            return dflt;
        }
        return v;
    }

    private static String describe(JsonNode n) {
        if (n.isNull()) {
            return "null";
        }
        if (n.isObject()) {
            return "a mapping";
        }
        if (n.isArray()) {
            return "a list";
        }
        String t = n.asText();
        return t.length() > 80 ? t.substring(0, 80) + "..." : t;
    }

}
