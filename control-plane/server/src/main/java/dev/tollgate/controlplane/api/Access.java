package dev.tollgate.controlplane.api;

import dev.tollgate.api.OperatorRole;

/** Who may call a route. */
public enum Access {
    /** Anyone who completes the TLS handshake (trust bundle, join-token issuance, the OpenAPI document). */
    PUBLIC(null),
    /** A registered workload authenticated by its current X.509-SVID. */
    WORKLOAD(null),
    /** An operator with the operator role or higher, or a workload acting for itself (the route checks which). */
    OPERATOR_OR_WORKLOAD(OperatorRole.OPERATOR),
    VIEWER(OperatorRole.VIEWER),
    OPERATOR(OperatorRole.OPERATOR),
    ADMIN(OperatorRole.ADMIN);

    private final OperatorRole role;

    Access(OperatorRole role) {
        this.role = role;
    }

    /** The least operator role required, or null for non-operator access levels. */
    public OperatorRole role() {
        return role;
    }
}
