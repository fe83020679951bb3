package dev.tollgate.controlplane.ca;

/**
 * The CA key cannot be used: the key-encryption key is missing, too short or wrong, or the stored key does not
 * belong to its certificate. The message says what the operator should do.
 */
public final class CaKeyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CaKeyException(String message) {
        super(message);
    }

    public CaKeyException(String message, Throwable cause) {
        super(message, cause);
    }
}
