package dev.tollgate.webhook;

/** The pod labels and annotations the webhook reads and writes. */
public final class Annotations {
    /** Label of a namespace whose pods are injected: {@code tollgate.dev/inject=enabled}. */
    public static final String NAMESPACE_LABEL = "tollgate.dev/inject";
    public static final String NAMESPACE_LABEL_VALUE = "enabled";
    /**
     * Pod label (and annotation): {@code "true"} opts a pod in outside an injected namespace (a label, because the
     * API server selects by labels only), {@code "false"} opts a pod out everywhere (label or annotation).
     */
    public static final String INJECT = "sidecar.tollgate.dev/inject";
    /** Set on every injected pod; a pod carrying it is left alone. */
    public static final String STATUS = "sidecar.tollgate.dev/status";
    public static final String STATUS_INJECTED = "injected";
    /** Label of every injected pod, selected by the chart's PodMonitor. */
    public static final String INJECTED_LABEL = "sidecar.tollgate.dev/injected";
    /** An existing ConfigMap of the pod's namespace holding sidecar.yaml (and ca-bundle.pem), used instead of generating one. */
    public static final String CONFIG_MAP = "sidecar.tollgate.dev/config-map";
    /** The sidecar's upstreams, a YAML or JSON mapping shaped like {@code upstreams:} of config/sidecar.yaml. */
    public static final String UPSTREAMS = "sidecar.tollgate.dev/upstreams";
    /** Port of the pod's own application: the sidecar then runs its ingress listener in front of it. */
    public static final String APP_PORT = "sidecar.tollgate.dev/app-port";
    /** Tool-call inspection of ingress requests: none, mcp or rest. */
    public static final String INSPECTION = "sidecar.tollgate.dev/inspection";
    /** Comma-separated SPIFFE IDs (or trust domains, as td:example.org) allowed to call the ingress listener. */
    public static final String ALLOW = "sidecar.tollgate.dev/allow";
    /** "false": a regular container instead of a native sidecar for this pod. */
    public static final String NATIVE = "sidecar.tollgate.dev/native";
    /** The generated sidecar.yaml and the trust anchor, projected into the sidecar by a downwardAPI volume. */
    public static final String GENERATED_CONFIG = "sidecar.tollgate.dev/config";
    public static final String GENERATED_TRUST_ANCHOR = "sidecar.tollgate.dev/trust-anchor";

    /** Names in the pod spec. */
    public static final String CONTAINER = "tollgate-sidecar";
    public static final String VOLUME_CONFIG = "tollgate-sidecar-config";
    public static final String VOLUME_TOKEN = "tollgate-sidecar-token";
    public static final String VOLUME_TMP = "tollgate-sidecar-tmp";
    public static final String CONFIG_DIR = "/etc/tollgate";
    public static final String CONFIG_FILE = CONFIG_DIR + "/sidecar.yaml";
    public static final String TRUST_ANCHOR_FILE = CONFIG_DIR + "/ca-bundle.pem";
    /** Where the projected service-account token is; the sidecar reads it via control-plane.k8s-token-file. */
    public static final String TOKEN_DIR = "/var/run/secrets/tollgate";
    public static final String TOKEN_FILE = TOKEN_DIR + "/token";
    /** The sidecar option naming the token file (the service-account attestation of docs/kubernetes.md). */
    public static final String TOKEN_FILE_OPTION = "k8s-token-file";

    private Annotations() {
    }
}
