package dev.tollgate.controlplane.ca;

/** A rotation was asked for that Tollgate cannot perform, e.g. of a CA the operator provided. */
public final class CaRotationException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CaRotationException(String message) {
        super(message);
    }
}
