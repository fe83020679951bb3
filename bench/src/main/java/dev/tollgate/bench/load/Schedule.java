package dev.tollgate.bench.load;

/** How requests are issued. */
public enum Schedule {
    /**
     * Constant rate, independent of responses: request i is due at start + i / rate and its latency is measured from
     * that due time, so a stalled server is charged for every request it delayed (no coordinated omission).
     */
    OPEN,
    /** Closed loop: every slot sends its next request as soon as the previous one completed; for saturation only. */
    CLOSED
}
