package dev.tollgate.controlplane.store;

/** A write that conflicts with what is stored, for example a second workload with the same SPIFFE ID. */
public final class StoreConflictException extends StoreException {
    private static final long serialVersionUID = 1L;

    public StoreConflictException(String message) {
        super(message, null);
    }
}
