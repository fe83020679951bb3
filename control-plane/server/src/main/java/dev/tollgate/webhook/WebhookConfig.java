package dev.tollgate.webhook;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import dev.tollgate.controlplane.config.ConfigValues;

/**
 * Configuration of {@code ./tollgate webhook}, parsed once; every option with its default is in
 * config/webhook.yaml.
 */
public record WebhookConfig(
        InetSocketAddress listen,
        InetSocketAddress adminListen,
        Path certFile,
        Path keyFile,
        Duration reloadInterval,
        int maxBodyBytes,
        int maxConnections,
        Duration idleTimeout,
        Duration handshakeTimeout,
        Path trustAnchorFile,
        InjectionSettings injection) {

    public static final List<ConfigValues.Option> OPTIONS = List.of(
            opt("listen", "127.0.0.1:9444", "host:port of the webhook's HTTPS listener (POST /mutate); the chart sets 0.0.0.0:9444"),
            opt("admin.listen", "127.0.0.1:9445", "host:port of the admin endpoint (plain HTTP: /metrics, /healthz, /readyz); the chart sets 0.0.0.0:9445"),
            opt("tls.cert", "", "PEM certificate chain the webhook serves, leaf first, with the Service's DNS name (required)"),
            opt("tls.key", "", "PEM private key of tls.cert (required)"),
            opt("tls.reload-interval", "10s", "how often tls.cert, tls.key and sidecar.trust-anchor are checked for new content; a broken update keeps the old state"),
            opt("limits.max-body-bytes", "3145728", "largest AdmissionReview body accepted, in bytes (the API server's own limit is 3 MiB); larger gets 413"),
            opt("limits.max-connections", "512", "most concurrent connections; more are closed at once"),
            opt("limits.idle-timeout", "30s", "a connection with no traffic for this long is closed"),
            opt("limits.handshake-timeout", "10s", "a TLS handshake not done within this is abandoned"),
            opt("sidecar.image", "", "image of the injected sidecar: the Tollgate image whose entrypoint is the launcher (required)"),
            opt("sidecar.image-pull-policy", "IfNotPresent", "pull policy of the sidecar image: Always, IfNotPresent or Never"),
            opt("sidecar.native", "true", "true: a native sidecar (an init container with restartPolicy Always, Kubernetes >= 1.29); false: a regular container, for older clusters (per pod: annotation sidecar.tollgate.dev/native)"),
            opt("sidecar.control-plane-url", "", "the control plane's API as the sidecars reach it, like https://tollgate.tollgate.svc:8443 (required)"),
            opt("sidecar.trust-domain", "tollgate.local", "the control plane's SPIFFE trust domain; the default audience of the service-account token"),
            opt("sidecar.control-plane-server-id", "", "the SPIFFE ID the control plane presents (default: spiffe://<sidecar.trust-domain>/tollgate/control-plane)"),
            opt("sidecar.trust-anchor", "", "PEM file of the CA bundle sidecars trust on first contact (./tollgate ctl bundle show) (required)"),
            opt("sidecar.token-audience", "", "audience of the projected service-account token the sidecar attests with (default: sidecar.trust-domain)"),
            opt("sidecar.token-expiration", "10m", "expirationSeconds of that token (10m .. 24h); the kubelet refreshes it at 80 % of its life"),
            opt("sidecar.ports.admin", "15000", "the sidecar's admin listener (/healthz, /readyz, /metrics), bound to 0.0.0.0 for probes and Prometheus"),
            opt("sidecar.ports.egress", "15001", "the sidecar's egress listener on 127.0.0.1, where the agent sends its tool calls"),
            opt("sidecar.ports.ingress", "15006", "the sidecar's ingress listener (mTLS from peers), only for pods that name an app port"),
            opt("sidecar.run-as-user", "10002", "user id of the sidecar process (different from the agent's)"),
            opt("sidecar.run-as-group", "10002", "group id of the sidecar process"),
            opt("sidecar.java-opts", "-XX:MaxRAMPercentage=75", "extra JVM options of the sidecar (TOLLGATE_JAVA_OPTS, read by the image's launcher on top of its JAVA_TOOL_OPTIONS)"),
            opt("sidecar.resources", "{\"requests\":{\"cpu\":\"100m\",\"memory\":\"256Mi\"},\"limits\":{\"memory\":\"512Mi\"}}",
                    "resources of the sidecar container (a Kubernetes ResourceRequirements mapping)"),
            opt("sidecar.startup-timeout", "120s", "how long the sidecar may take to become ready (startup probe on /readyz) before the kubelet restarts it; the agent starts after it"),
            opt("sidecar.config", "{}", "base of every generated sidecar.yaml (a mapping of config/sidecar.yaml options, like credentials or limits); the webhook sets listeners, app, ingress, upstreams and control-plane.{url,server-id,trust-anchor,k8s-token-file} over it"));

    private static ConfigValues.Option opt(String key, String def, String description) {
        return new ConfigValues.Option(key, def, description);
    }

    public static ConfigValues values() {
        return new ConfigValues(OPTIONS);
    }

    /** Parses every option, reporting all problems at once. */
    public static WebhookConfig parse(ConfigValues v) {
        InetSocketAddress listen = v.address("listen");
        InetSocketAddress admin = v.address("admin.listen");
        String cert = v.required("tls.cert");
        String key = v.required("tls.key");
        Duration reload = v.duration("tls.reload-interval", Duration.ofMillis(100), Duration.ofHours(1));
        int maxBody = (int) v.integer("limits.max-body-bytes", 4096, 16L << 20);
        int maxConnections = (int) v.integer("limits.max-connections", 1, 100_000);
        Duration idle = v.duration("limits.idle-timeout", Duration.ofSeconds(1), Duration.ofHours(1));
        Duration handshake = v.duration("limits.handshake-timeout", Duration.ofMillis(100), Duration.ofMinutes(5));

        String image = v.required("sidecar.image");
        String pull = v.string("sidecar.image-pull-policy");
        if (!List.of("Always", "IfNotPresent", "Never").contains(pull)) {
            v.error("sidecar.image-pull-policy: '" + pull + "' (expected: Always, IfNotPresent or Never)");
        }
        boolean nativeSidecar = bool(v, "sidecar.native");
        String url = v.required("sidecar.control-plane-url");
        if (!url.isEmpty() && !url.startsWith("https://")) {
            v.error("sidecar.control-plane-url: '" + url + "' (expected: https://host:port)");
        }
        String trustDomain = v.required("sidecar.trust-domain");
        String anchor = v.required("sidecar.trust-anchor");
        String serverId = v.optional("sidecar.control-plane-server-id").orElse("spiffe://" + trustDomain + "/tollgate/control-plane");
        if (!serverId.startsWith("spiffe://")) {
            v.error("sidecar.control-plane-server-id: '" + serverId + "' (expected: a spiffe:// ID)");
        }
        String audience = v.optional("sidecar.token-audience").orElse(trustDomain);
        Duration expiration = v.duration("sidecar.token-expiration", Duration.ofMinutes(10), Duration.ofHours(24));
        int adminPort = port(v, "sidecar.ports.admin");
        int egressPort = port(v, "sidecar.ports.egress");
        int ingressPort = port(v, "sidecar.ports.ingress");
        if (adminPort == egressPort || adminPort == ingressPort || egressPort == ingressPort) {
            v.error("sidecar.ports: admin " + adminPort + ", egress " + egressPort + ", ingress " + ingressPort
                    + " (expected: three different ports)");
        }
        long user = v.integer("sidecar.run-as-user", 1, Integer.MAX_VALUE);
        long group = v.integer("sidecar.run-as-group", 1, Integer.MAX_VALUE);
        String javaOptions = v.string("sidecar.java-opts");
        ObjectNode resources = mapping(v, "sidecar.resources");
        Duration startup = v.duration("sidecar.startup-timeout", Duration.ofSeconds(5), Duration.ofHours(1));
        ObjectNode base = mapping(v, "sidecar.config");
        for (String owned : List.of("listeners", "app", "ingress", "upstreams")) {
            if (base.has(owned)) {
                v.error("sidecar.config." + owned + ": set by the webhook (expected: per pod, by annotations)");
            }
        }
        if (base.path("tls").has("cert") || base.path("tls").has("key") || base.path("tls").has("bundle")) {
            v.error("sidecar.config.tls: cert, key and bundle come from the control plane (expected: absent)");
        }
        v.throwIfInvalid("webhook");
        InjectionSettings injection = new InjectionSettings(image, pull, nativeSidecar, url, serverId, audience,
                expiration.toSeconds(), adminPort, egressPort, ingressPort, user, group, javaOptions, resources,
                (int) Math.max(1, startup.toSeconds()), base);
        return new WebhookConfig(listen, admin, Path.of(cert), Path.of(key), reload, maxBody, maxConnections, idle,
                handshake, Path.of(anchor), injection);
    }

    private static boolean bool(ConfigValues v, String key) {
        String s = v.string(key).trim();
        if (!s.equals("true") && !s.equals("false")) {
            v.error(key + ": '" + s + "' (expected: true or false)");
        }
        return s.equals("true");
    }

    private static int port(ConfigValues v, String key) {
        return (int) v.integer(key, 1, 65535);
    }

    private static ObjectNode mapping(ConfigValues v, String key) {
        String s = v.string(key);
        try {
            JsonNode n = s.isBlank() ? new ObjectMapper().createObjectNode() : new YAMLMapper().readTree(s);
            if (n != null && n.isObject()) {
                return (ObjectNode) n;
            }
            v.error(key + ": '" + s + "' (expected: a mapping)");
        } catch (java.io.IOException e) {
            v.error(key + ": " + e.getMessage().lines().findFirst().orElse("unreadable") + " (expected: a mapping)");
        }
        return new ObjectMapper().createObjectNode();
    }
}
