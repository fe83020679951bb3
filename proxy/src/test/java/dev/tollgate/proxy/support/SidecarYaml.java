package dev.tollgate.proxy.support;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds sidecar YAML for tests: every listener on 127.0.0.1:0 unless told otherwise. */
public final class SidecarYaml {
    private Path cert;
    private Path key;
    private Path bundle;
    private String app;
    private boolean ingress = true;
    private boolean egress;
    private Boolean egressH2c;
    private boolean admin = true;
    private String l4Target;
    private final List<String> allow = new ArrayList<>();
    private final List<String> upstreams = new ArrayList<>();
    private final List<String> limits = new ArrayList<>();
    private String minVersion;
    private String drainTimeout = "10s";
    private Boolean credentialsRequired;
    private String reloadInterval = "1h";
    private String controlPlane;
    private String policy;

    public SidecarYaml tls(Path[] certAndKey, Path bundleFile) {
        this.cert = certAndKey[0];
        this.key = certAndKey[1];
        this.bundle = bundleFile;
        return this;
    }

    /** The body of a {@code control-plane:} mapping (indented lines); the SVID then comes from the control plane. */
    public SidecarYaml controlPlane(String indentedBody) {
        this.controlPlane = indentedBody;
        return this;
    }

    public SidecarYaml app(String hostPort) {
        this.app = hostPort;
        return this;
    }

    public SidecarYaml ingress(boolean on) {
        ingress = on;
        return this;
    }

    public SidecarYaml egress(boolean on) {
        egress = on;
        return this;
    }

    /** Sets {@code listeners.egress.http2-prior-knowledge}; unset leaves the default (on). */
    public SidecarYaml egressHttp2PriorKnowledge(boolean on) {
        egressH2c = on;
        return this;
    }

    public SidecarYaml l4(String target) {
        l4Target = target;
        return this;
    }

    public SidecarYaml allow(String spiffeId) {
        allow.add("\"" + spiffeId + "\"");
        return this;
    }

    public SidecarYaml allowTrustDomain(String td) {
        allow.add("{trust-domain: " + td + "}");
        return this;
    }

    public SidecarYaml spiffeUpstream(String name, String address, String spiffeId, String matchHost) {
        return spiffeUpstream(name, address, spiffeId, matchHost, "20s");
    }

    public SidecarYaml spiffeUpstream(String name, String address, String spiffeId, String matchHost,
                                      String requestTimeout) {
        upstreams.add("  " + name + ":\n    address: \"" + address + "\"\n    spiffe-id: \"" + spiffeId
                + "\"\n    match: {host: " + matchHost + "}\n    pool-size: 4\n    request-timeout: "
                + requestTimeout + "\n");
        return this;
    }

    public SidecarYaml spiffeUpstreamByPrefix(String name, String address, String spiffeId, String prefix) {
        upstreams.add("  " + name + ":\n    address: \"" + address + "\"\n    spiffe-id: \"" + spiffeId
                + "\"\n    match: {path-prefix: " + prefix + "}\n    pool-size: 4\n");
        return this;
    }

    public SidecarYaml externalUpstream(String name, String address, Path roots, String matchPrefix) {
        upstreams.add("  " + name + ":\n    address: \"" + address + "\"\n    tls: external\n    roots: \"" + roots
                + "\"\n    match: {path-prefix: " + matchPrefix + "}\n");
        return this;
    }

    /** One upstream as raw YAML: its name line indented by two spaces, its options by four. */
    public SidecarYaml upstream(String rawBlock) {
        upstreams.add(rawBlock.endsWith("\n") ? rawBlock : rawBlock + "\n");
        return this;
    }

    public SidecarYaml limit(String yamlLine) {
        limits.add(yamlLine);
        return this;
    }

    public SidecarYaml minVersion(String v) {
        minVersion = v;
        return this;
    }

    /** Sets {@code credentials.required}; unset leaves the default (required). */
    public SidecarYaml credentialsRequired(boolean required) {
        credentialsRequired = required;
        return this;
    }

    /** The body of a {@code policy:} mapping (indented lines), e.g. {@code "  source: control-plane\n"}. */
    public SidecarYaml policy(String indentedBody) {
        policy = indentedBody;
        return this;
    }

    public SidecarYaml drainTimeout(String d) {
        drainTimeout = d;
        return this;
    }

    public SidecarYaml reloadInterval(String d) {
        reloadInterval = d;
        return this;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("listeners:\n");
        if (ingress) {
            b.append("  ingress: {address: \"127.0.0.1:0\"}\n");
        }
        if (egress) {
            b.append("  egress: {address: \"127.0.0.1:0\"")
                    .append(egressH2c == null ? "" : ", http2-prior-knowledge: " + egressH2c).append("}\n");
        }
        if (admin) {
            b.append("  admin: {address: \"127.0.0.1:0\"}\n");
        }
        if (l4Target != null) {
            b.append("  l4: {address: \"127.0.0.1:0\", target: \"").append(l4Target).append("\"}\n");
        }
        if (app != null) {
            b.append("app: \"").append(app).append("\"\n");
        }
        if (controlPlane != null) {
            b.append("control-plane:\n").append(controlPlane).append("tls:\n  reload-interval: ")
                    .append(reloadInterval).append('\n');
        } else {
            b.append("tls:\n  cert: \"").append(cert).append("\"\n  key: \"").append(key).append("\"\n  bundle: \"")
                    .append(bundle).append("\"\n  reload-interval: ").append(reloadInterval).append('\n');
        }
        if (minVersion != null) {
            b.append("  min-version: \"").append(minVersion).append("\"\n");
        }
        if (!allow.isEmpty()) {
            b.append("identity:\n  allow: [").append(String.join(", ", allow)).append("]\n");
        }
        if (!upstreams.isEmpty()) {
            b.append("upstreams:\n");
            upstreams.forEach(b::append);
        }
        if (!limits.isEmpty()) {
            b.append("limits:\n");
            limits.forEach(l -> b.append("  ").append(l).append('\n'));
        }
        if (credentialsRequired != null) {
            b.append("credentials:\n  required: ").append(credentialsRequired).append('\n');
        }
        if (policy != null) {
            b.append("policy:\n").append(policy);
        }
        b.append("drain-timeout: ").append(drainTimeout).append('\n');
        b.append("worker-threads: 2\n");
        return b.toString();
    }
}
