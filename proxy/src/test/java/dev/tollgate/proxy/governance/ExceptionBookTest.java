package dev.tollgate.proxy.governance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.MutableClock;

/** The exception book: what waives a missing task token, for how long, and what waives nothing. */
class ExceptionBookTest {
    static final SpiffeId ME = SpiffeId.parse("spiffe://test.tollgate/agent/batch");
    static final SpiffeId OTHER = SpiffeId.parse("spiffe://test.tollgate/agent/other");
    static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");
    static final String LEGACY = "legacy.example:443";

    final MutableClock clock = new MutableClock(T0);
    final ExceptionBook book = new ExceptionBook(clock, () -> Optional.of(ME));

    static ExceptionGrant grant(String id, String state, String waive, SpiffeId workload, String upstream,
                                String prefix, String direction, Instant expires) {
        return new ExceptionGrant(id, state, waive, workload.toString(), upstream, prefix, direction, expires,
                expires.minus(Duration.ofHours(1)));
    }

    static ExceptionGrant active(String id, String upstream, String prefix, String direction, Instant expires) {
        return grant(id, "active", ExceptionBook.NO_TASK_TOKEN, ME, upstream, prefix, direction, expires);
    }

    ExceptionBook.Waiver at(Direction d, String upstream, String path) {
        return book.waiverFor(d, upstream, path, clock.instant());
    }

    @Test
    void anActiveGrantWaivesItsScopeUntilItsExpiryThenNamesItself() {
        ExceptionGrant g = active("exc-1", LEGACY, "/v1/reports/", "egress", T0.plus(Duration.ofHours(2)));
        book.apply(g);

        assertThat(at(Direction.EGRESS, LEGACY, "/v1/reports/daily")).isEqualTo(new ExceptionBook.Waiver.Active(g));
        assertThat(at(Direction.EGRESS, "LEGACY.example:443", "/v1/reports/x")).isInstanceOf(
                ExceptionBook.Waiver.Active.class);
        // Out of scope: another upstream, another path, a path only sharing a prefix, the other direction.
        assertThat(at(Direction.EGRESS, "other.example:443", "/v1/reports/x")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(at(Direction.EGRESS, LEGACY, "/v1/admin")).isSameAs(ExceptionBook.Waiver.NONE);
        // A plain string prefix: ending in '/', it means the directory, not the sibling nor the bare name.
        assertThat(at(Direction.EGRESS, LEGACY, "/v1/reportsX")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(at(Direction.EGRESS, LEGACY, "/v1/reports")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(at(Direction.INGRESS, LEGACY, "/v1/reports/x")).isSameAs(ExceptionBook.Waiver.NONE);
        // A path that hides where it goes never matches a path prefix.
        assertThat(at(Direction.EGRESS, LEGACY, "/v1/reports/../admin")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(at(Direction.EGRESS, LEGACY, "/v1/reports/%2e%2e/admin")).isSameAs(ExceptionBook.Waiver.NONE);

        clock.advance(Duration.ofHours(2).minusMillis(1));
        assertThat(at(Direction.EGRESS, LEGACY, "/v1/reports/x")).isInstanceOf(ExceptionBook.Waiver.Active.class);
        clock.advance(Duration.ofMillis(1));
        assertThat(at(Direction.EGRESS, LEGACY, "/v1/reports/x")).isEqualTo(new ExceptionBook.Waiver.Expired(g));
        // Out of its scope an expired grant names nothing either.
        assertThat(at(Direction.EGRESS, "other.example:443", "/v1/reports/x")).isSameAs(ExceptionBook.Waiver.NONE);
    }

    @Test
    void aGrantWithoutUpstreamPathOrDirectionCoversEveryRequestOfTheWorkload() {
        book.apply(active("exc-all", null, null, null, T0.plus(Duration.ofHours(1))));
        assertThat(at(Direction.EGRESS, LEGACY, "/anything")).isInstanceOf(ExceptionBook.Waiver.Active.class);
        assertThat(at(Direction.INGRESS, "127.0.0.1:8080", "/x")).isInstanceOf(ExceptionBook.Waiver.Active.class);
    }

    @Test
    void requestedForeignAndUnknownGrantsWaiveNothing() {
        Instant later = T0.plus(Duration.ofHours(1));
        book.apply(grant("exc-req", "requested", ExceptionBook.NO_TASK_TOKEN, ME, null, null, null, later));
        book.apply(grant("exc-foreign", "active", ExceptionBook.NO_TASK_TOKEN, OTHER, null, null, null, later));
        book.apply(grant("exc-weak", "active", "weak-upstream-tls", ME, LEGACY, null, null, later));
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(book.grant("exc-foreign")).isEmpty();

        ExceptionBook nobody = new ExceptionBook(clock, Optional::empty);
        nobody.apply(active("exc-1", null, null, null, later));
        assertThat(nobody.waiverFor(Direction.EGRESS, LEGACY, "/x", clock.instant()))
                .isSameAs(ExceptionBook.Waiver.NONE);
    }

    @Test
    void aRevokedGrantStopsAtOnce() {
        Instant later = T0.plus(Duration.ofHours(1));
        book.apply(active("exc-1", LEGACY, null, "egress", later));
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isInstanceOf(ExceptionBook.Waiver.Active.class);
        book.apply(grant("exc-1", "revoked", ExceptionBook.NO_TASK_TOKEN, ME, LEGACY, null, "egress", later));
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isSameAs(ExceptionBook.Waiver.NONE);
    }

    @Test
    void anInjectCredentialGrantAlsoCoversTheMissingTaskTokenOfItsUpstreamOnly() {
        ExceptionGrant g = grant("exc-inj", "active", ExceptionBook.INJECT_CREDENTIAL, ME, LEGACY, null, "egress",
                T0.plus(Duration.ofHours(1)));
        book.apply(g);
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isEqualTo(new ExceptionBook.Waiver.Active(g));
        assertThat(at(Direction.EGRESS, "other.example:443", "/x")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(book.injectionGrant("exc-inj", LEGACY, clock.instant())).isEqualTo(
                new ExceptionBook.Waiver.Active(g));
        assertThat(book.injectionGrant("exc-inj", "other.example:443", clock.instant()))
                .isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(book.injectionGrant("exc-unknown", LEGACY, clock.instant())).isSameAs(ExceptionBook.Waiver.NONE);
    }

    @Test
    void aResyncWithoutAnActiveGrantRevokesItButStillNamesExpiredOnes() {
        ExceptionGrant soon = active("exc-soon", LEGACY, null, null, T0.plus(Duration.ofMinutes(5)));
        ExceptionGrant late = active("exc-late", "b.example:443", null, null, T0.plus(Duration.ofHours(5)));
        book.apply(soon);
        book.apply(late);
        clock.advance(Duration.ofMinutes(10));
        book.replaceAll(List.of());
        assertThat(at(Direction.EGRESS, "b.example:443", "/x")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(book.grant("exc-late").orElseThrow().state()).isEqualTo("revoked");
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isEqualTo(new ExceptionBook.Waiver.Expired(soon));
    }

    @Test
    void endedGrantsAreForgottenADayAfterTheirExpiry() {
        book.apply(active("exc-1", LEGACY, null, null, T0.plus(Duration.ofMinutes(5))));
        clock.advance(Duration.ofMinutes(5).plus(ExceptionBook.KEEP_ENDED));
        book.apply(active("exc-2", "b.example:443", null, null, clock.instant().plus(Duration.ofHours(1))));
        assertThat(book.grant("exc-1")).isEmpty();
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isSameAs(ExceptionBook.Waiver.NONE);
    }

    @Test
    void aGrantMissingWhatASidecarNeedsIsRefusedAndChangesNothing() {
        assertThatThrownBy(() -> book.apply(new ExceptionGrant("exc-1", "active", ExceptionBook.NO_TASK_TOKEN,
                ME.toString(), null, null, null, null, null))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expiresAt");
        assertThatThrownBy(() -> book.apply(active("exc-1", null, null, "sideways", T0.plusSeconds(60))))
                .hasMessageContaining("direction sideways");
        assertThat(book.grants()).isEmpty();
    }

    @Test
    void metricTagsAreTheFirstSixtyFourIdsThenOther() {
        for (int i = 0; i < ExceptionBook.MAX_TAGS; i++) {
            assertThat(book.tagOf("exc-" + i)).isEqualTo("exc-" + i);
        }
        assertThat(book.tagOf("exc-late")).isEqualTo(ExceptionBook.OTHER);
        assertThat(book.tagOf("exc-3")).isEqualTo("exc-3");
    }

    // ---- the watch listener -----------------------------------------------------------------------------------

    static WatchEvent event(long rev, String kind, JsonNode payload) {
        return new WatchEvent(rev, kind, T0, payload);
    }

    @Test
    void theWatchListenerAppliesEventsAndResyncsAndFailsClosedOnAnUnreadableOne() {
        ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), clock);
        ExceptionWatchListener l = new ExceptionWatchListener(book, metrics);
        AtomicInteger changes = new AtomicInteger();
        book.onChange(changes::incrementAndGet);
        ExceptionGrant g = active("exc-1", LEGACY, null, null, T0.plus(Duration.ofHours(1)));

        l.onEvent(event(1, WatchEvent.EXCEPTION, Json.mapper().valueToTree(g)));
        l.onEvent(event(2, WatchEvent.REVOCATION, JsonNodeFactory.instance.objectNode()));
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isInstanceOf(ExceptionBook.Waiver.Active.class);
        assertThat(changes).hasValue(1);

        ObjectNode broken = JsonNodeFactory.instance.objectNode().put("id", "exc-1").put("expiresAt", "soon");
        l.onEvent(event(3, WatchEvent.EXCEPTION, broken));
        assertThat(book.broken()).isTrue();
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(metrics.exceptionUpdateCount(false)).isEqualTo(1);

        ObjectNode resync = JsonNodeFactory.instance.objectNode();
        resync.putArray(WatchEvent.EXCEPTION).add(Json.mapper().valueToTree(g));
        l.onResync(event(4, WatchEvent.RESYNC, resync));
        assertThat(book.broken()).isFalse();
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isInstanceOf(ExceptionBook.Waiver.Active.class);

        // A resync of a control plane without exceptions: none is active.
        l.onResync(event(5, WatchEvent.RESYNC, JsonNodeFactory.instance.objectNode()));
        assertThat(at(Direction.EGRESS, LEGACY, "/x")).isSameAs(ExceptionBook.Waiver.NONE);
        assertThat(metrics.exceptionUpdateCount(true)).isEqualTo(3);
    }
}
