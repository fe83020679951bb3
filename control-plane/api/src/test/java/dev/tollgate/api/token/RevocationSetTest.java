package dev.tollgate.api.token;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.RevocationEvent;
import dev.tollgate.testing.MutableClock;

class RevocationSetTest {
    final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    final RevocationSet set = new RevocationSet(clock);
    final VerifiedToken token = new VerifiedToken(TokenType.TASK, "jti-1", "task-1",
            SpiffeId.parse("spiffe://example.org/agent/bot"), List.of("spiffe://example.org/agent/bot"),
            new TaskScope(List.of(ToolGrant.of("crm.read"))), clock.instant(), clock.instant().plusSeconds(300), "kid-1");

    RevocationEvent event(String type, String value) {
        return new RevocationEvent(type, value, clock.instant(), clock.instant().plusSeconds(300));
    }

    @Test
    void revokesATokenByItsJtiTaskSubjectOrSigningKey() {
        for (RevocationEvent e : List.of(event("token", "jti-1"), event("task", "task-1"),
                event("spiffe_id", "spiffe://example.org/agent/bot"), event("signing_key", "kid-1"))) {
            RevocationSet one = new RevocationSet(clock);
            assertThat(one.isRevoked(token)).isFalse();
            one.apply(e);
            assertThat(one.isRevoked(token)).as(e.type()).isTrue();
            assertThat(one.revocationOf(token)).get().extracting(RevocationSet.Entry::value).isEqualTo(e.value());
        }
    }

    @Test
    void ignoresRevocationsOfOtherValues() {
        set.apply(event("token", "jti-2"));
        set.apply(event("task", "task-2"));
        set.apply(event("signing_key", "kid-2"));
        set.apply(event("spiffe_id", "spiffe://example.org/agent/other"));
        assertThat(set.isRevoked(token)).isFalse();
    }

    @Test
    void anEntryStopsCountingAtItsExpiryAndIsPurged() {
        set.apply(event("task", "task-1"));
        clock.advance(Duration.ofSeconds(299));
        assertThat(set.isRevoked(token)).isTrue();
        clock.advance(Duration.ofSeconds(1));
        assertThat(set.isRevoked(token)).isFalse();
        assertThat(set.purgeExpired()).isEqualTo(1);
        assertThat(set.size()).isZero();
    }

    @Test
    void aRepeatedRevocationKeepsTheLaterExpiry() {
        set.apply(new RevocationEvent("task", "task-1", clock.instant(), clock.instant().plusSeconds(600)));
        set.apply(event("task", "task-1"));
        clock.advance(Duration.ofSeconds(400));
        assertThat(set.isRevoked(token)).isTrue();
        assertThat(set.size()).isEqualTo(1);
    }

    @Test
    void aSnapshotReplacesEveryEntry() {
        set.apply(event("token", "jti-1"));
        set.replaceAll(List.of(event("task", "task-9")));
        assertThat(set.isRevoked(token)).isFalse();
        assertThat(set.isRevoked(RevocationSet.Type.TASK, "task-9")).isTrue();
    }

    @Test
    void refusesAnUnknownType() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> set.apply(event("user", "x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: token, task");
    }
}
