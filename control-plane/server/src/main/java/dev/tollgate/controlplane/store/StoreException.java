package dev.tollgate.controlplane.store;

/** The store failed; nothing partial was committed. */
public class StoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
