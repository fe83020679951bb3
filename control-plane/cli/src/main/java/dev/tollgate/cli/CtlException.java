package dev.tollgate.cli;

/** A ctl failure with a message that says what was wrong and what to do. */
final class CtlException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CtlException(String message) {
        super(message);
    }
}
