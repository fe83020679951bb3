package dev.tollgate.api.policy;

/** The closed set of reasons a policy denies a call; {@link #wire()} is the text carried in decisions and metric tags. */
public enum DenialReason {
    /** The tool is not listed under {@code tools:}. */
    UNKNOWN_TOOL("unknown_tool"),
    /** A {@code transition} rule forbids this call after an earlier one of the task. */
    TRANSITION_FORBIDDEN("transition_forbidden"),
    /** A {@code step-up} rule wants a fresher credential. */
    STEP_UP_REQUIRED("step_up_required"),
    /** A {@code limit} rule's per-task count is used up. */
    CALL_LIMIT_EXCEEDED("call_limit_exceeded"),
    /** A {@code rate} rule's sliding window is full. */
    RATE_LIMITED("rate_limited"),
    /** An {@code arguments} rule's constraint does not hold. */
    ARGUMENT_NOT_ALLOWED("argument_not_allowed");

    private final String wire;

    DenialReason(String wire) {
        this.wire = wire;
    }

    public String wire() {
        return wire;
    }

    /** The reason with this wire text. */
    public static DenialReason fromWire(String wire) {
        for (DenialReason r : values()) {
            if (r.wire.equals(wire)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown denial reason: " + wire);
    }
}
