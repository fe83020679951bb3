package dev.tollgate.controlplane.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.controlplane.api.ApiProblem;

class AgentRateLimitTest {
    static final SpiffeId A = SpiffeId.parse("spiffe://test.tollgate/agent/a");
    static final SpiffeId B = SpiffeId.parse("spiffe://test.tollgate/agent/b");

    final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    final List<AgentRateLimit.Request> refused = new ArrayList<>();
    final AgentRateLimit limit = new AgentRateLimit(2, 3, nanos::get, refused::add,
            "tokens.agent-rate, tokens.agent-burst");

    @Test
    void anIdleAgentHasItsBurstThenItsRateAndEachAgentItsOwnBucket() {
        for (int i = 0; i < 3; i++) {
            limit.acquire(A, AgentRateLimit.Request.TASK_CREATE);
        }
        assertThatThrownBy(() -> limit.acquire(A, AgentRateLimit.Request.TOKEN_EXCHANGE))
                .isInstanceOfSatisfying(ApiProblem.class, p -> {
                    assertThat(p.status()).isEqualTo(429);
                    assertThat(p.reason()).isEqualTo("rate_limited");
                    assertThat(p.retryAfterSeconds()).isEqualTo(1);
                    assertThat(p.getMessage()).contains(A.toString(), "exchange a token", "tokens.agent-rate");
                });
        assertThat(refused).containsExactly(AgentRateLimit.Request.TOKEN_EXCHANGE);
        limit.acquire(B, AgentRateLimit.Request.TOKEN_EXCHANGE); // B's bucket is its own

        nanos.addAndGet(500_000_000L); // half a second at 2 per second: one more
        limit.acquire(A, AgentRateLimit.Request.TOKEN_EXCHANGE);
        assertThatThrownBy(() -> limit.acquire(A, AgentRateLimit.Request.TASK_CREATE)).isInstanceOf(ApiProblem.class);

        nanos.addAndGet(60_000_000_000L); // a long pause refills to the burst, not beyond
        for (int i = 0; i < 3; i++) {
            limit.acquire(A, AgentRateLimit.Request.TASK_CREATE);
        }
        assertThatThrownBy(() -> limit.acquire(A, AgentRateLimit.Request.TASK_CREATE)).isInstanceOf(ApiProblem.class);
        assertThat(refused).hasSize(3);
    }

    @Test
    void retryAfterIsTheWholeSecondsUntilTheNextRequestIsAllowed() {
        AgentRateLimit slow = new AgentRateLimit(1.0 / 10, 1, nanos::get, r -> { }, "test");
        slow.acquire(A, AgentRateLimit.Request.TASK_CREATE);
        nanos.addAndGet(2_500_000_000L);
        assertThatThrownBy(() -> slow.acquire(A, AgentRateLimit.Request.TASK_CREATE))
                .isInstanceOfSatisfying(ApiProblem.class, p -> assertThat(p.retryAfterSeconds()).isEqualTo(8));
    }

    @Test
    void nonsenseSettingsAreRefused() {
        assertThatThrownBy(() -> new AgentRateLimit(0, 1, nanos::get, r -> { }, "test"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AgentRateLimit(1, 0, nanos::get, r -> { }, "test"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
