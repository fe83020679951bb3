package dev.tollgate.api.token;

/** A task scope that breaks a rule of its shape or bounds; the message names the field and what was expected. */
public final class InvalidScopeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidScopeException(String message) {
        super(message);
    }
}
