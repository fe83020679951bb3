package dev.tollgate.webhook;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What the webhook injects: the sidecar container's image, ports, identity and resources, and the base of every
 * generated sidecar.yaml. Immutable once parsed; the JSON nodes are copied before use.
 */
public record InjectionSettings(
        String image,
        String imagePullPolicy,
        boolean nativeSidecar,
        String controlPlaneUrl,
        String controlPlaneServerId,
        String tokenAudience,
        long tokenExpirationSeconds,
        int adminPort,
        int egressPort,
        int ingressPort,
        long runAsUser,
        long runAsGroup,
        String javaOpts,
        ObjectNode resources,
        int startupTimeoutSeconds,
        ObjectNode baseConfig) {
}
