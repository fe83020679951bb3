package dev.tollgate.controlplane.identity;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * Keeps refusals of unauthenticated callers from flooding the audit chain: the same refusal (same key: reason and
 * who) is audited once per window, and at most {@code maxPerWindow} refusals of any key per window. What is not
 * audited is still refused and counted.
 */
final class RefusalAuditLimiter {
    /** Most keys remembered; beyond it the oldest window is forgotten at once. */
    static final int MAX_KEYS = 10_000;

    private final Clock clock;
    private final Duration window;
    private final int maxPerWindow;
    private final Map<String, Instant> lastAudited = new HashMap<>();
    private Instant windowStart = Instant.MIN;
    private int inWindow;

    RefusalAuditLimiter(Clock clock, Duration window, int maxPerWindow) {
        this.clock = clock;
        this.window = window;
        this.maxPerWindow = maxPerWindow;
    }

    /** True when this refusal is to be audited now (and is remembered as audited). */
    synchronized boolean admit(String key) {
        Instant now = clock.instant();
        if (!now.isBefore(windowStart.plus(window))) {
            windowStart = now;
            inWindow = 0;
            lastAudited.values().removeIf(at -> !now.isBefore(at.plus(window)));
        }
        Instant last = lastAudited.get(key);
        if (last != null && now.isBefore(last.plus(window))) {
            return false;
        }
        if (inWindow >= maxPerWindow) {
            return false;
        }
        if (lastAudited.size() >= MAX_KEYS) {
            lastAudited.clear();
        }
        inWindow++;
        lastAudited.put(key, now);
        return true;
    }
}
