package dev.tollgate.controlplane.identity.k8s;

/** A refused token or a check that could not be made: the refusal and a message for the caller (never the token). */
public final class K8sRefusalException extends Exception {
    private static final long serialVersionUID = 1L;
    private final K8sRefusal refusal;
    private final transient ProjectedToken token;

    public K8sRefusalException(K8sRefusal refusal, String message) {
        this(refusal, message, null);
    }

    /** A refusal of a token whose signature and claims were verified (so its pod can be named in the audit). */
    public K8sRefusalException(K8sRefusal refusal, String message, ProjectedToken token) {
        super(message, null, false, false);
        this.refusal = refusal;
        this.token = token;
    }

    public K8sRefusal refusal() {
        return refusal;
    }

    /** The verified token, when the refusal came after verification; else null. */
    public ProjectedToken token() {
        return token;
    }
}
