package dev.tollgate.controlplane.token;

import java.time.Duration;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.controlplane.api.ApiProblem;

/**
 * How often one agent may ask this replica for a credential (create a task, exchange a token): a token bucket per
 * SPIFFE ID, {@code rate} per second with bursts of {@code burst}. Each granted request writes durable rows (a task or
 * token record and its audit events), so an agent in a loop would otherwise grow the database and the audit chain as
 * fast as the API answers. Operators are not limited. A bucket is dropped once its agent has been idle for as long as
 * it takes to fill (at least a minute), so dropping it gives nothing away; at most {@link #MAX_AGENTS} are held.
 */
public final class AgentRateLimit {
    static final int MAX_AGENTS = 100_000;
    /** The problem reason of a refused request; such a refusal writes no audit row. */
    public static final String RATE_LIMITED = "rate_limited";

    /** What an agent asked for; one bucket covers both. */
    public enum Request {
        TASK_CREATE("create a task"), TASK_COMPLETE("complete a task"), TOKEN_EXCHANGE("exchange a token"),
        DECISION_BATCH("ship a decision batch");

        private final String words;

        Request(String words) {
            this.words = words;
        }

        /** The metric tag value: task_create, token_exchange. */
        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final double rate;
    private final double burst;
    private final LongSupplier nanos;
    private final Consumer<Request> refused;
    private final String settings;
    private final Cache<SpiffeId, Bucket> buckets;

    /**
     * @param rate     requests per second each agent may sustain, > 0
     * @param burst    requests an idle agent may make at once, >= 1
     * @param refused  called for each refused request (a metric)
     * @param settings the configuration options of rate and burst, named in a refusal
     */
    public AgentRateLimit(double rate, int burst, LongSupplier nanos, Consumer<Request> refused, String settings) {
        this.settings = settings;
        if (!(rate > 0) || burst < 1) {
            throw new IllegalArgumentException("rate: " + rate + ", burst: " + burst + " (expected: rate > 0, burst >= 1)");
        }
        this.rate = rate;
        this.burst = burst;
        this.nanos = nanos;
        this.refused = refused;
        // kept at least as long as an empty bucket takes to fill: a dropped bucket comes back full
        Duration idle = Duration.ofMillis(Math.max(60_000L, (long) Math.ceil(burst / rate * 1000)));
        this.buckets = Caffeine.newBuilder().maximumSize(MAX_AGENTS).expireAfterAccess(idle).build();
    }

    /**
     * Takes one request from the agent's bucket.
     *
     * @throws ApiProblem 429 {@code rate_limited} with Retry-After when the bucket is empty
     */
    public void acquire(SpiffeId agent, Request request) {
        Bucket b = buckets.get(agent, k -> new Bucket(burst, nanos.getAsLong()));
        double wait = b.take(nanos.getAsLong());
        if (wait > 0) {
            refused.accept(request);
            throw new ApiProblem(429, RATE_LIMITED, "Too many requests", agent + " asks to " + request.words
                    + " faster than " + rate + " per second (bursts of " + (long) burst
                    + "; " + settings + "); retry later", (long) Math.ceil(wait));
        }
    }

    private final class Bucket {
        private double tokens;
        private long at;

        Bucket(double tokens, long at) {
            this.tokens = tokens;
            this.at = at;
        }

        /** 0 when a token was taken; else the seconds until one is there. */
        synchronized double take(long now) {
            tokens = Math.min(burst, tokens + Math.max(0, now - at) / 1e9 * rate);
            at = now;
            if (tokens >= 1) {
                tokens -= 1;
                return 0;
            }
            return (1 - tokens) / rate;
        }
    }
}
