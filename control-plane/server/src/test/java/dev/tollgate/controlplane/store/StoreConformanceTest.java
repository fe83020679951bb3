package dev.tollgate.controlplane.store;

import dev.tollgate.testing.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.K8sSelector;
import dev.tollgate.controlplane.store.JoinTokenRedemption.Outcome;

/**
 * The behaviour every {@link Store} implementation must show. Each database runs it through a subclass that
 * supplies fresh, empty databases.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
abstract class StoreConformanceTest {
    static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
    static final SpiffeId AGENT_A = SpiffeId.parse("spiffe://example.org/agent/a");
    static final SpiffeId AGENT_B = SpiffeId.parse("spiffe://example.org/agent/b");
    static final SpiffeId TOOL_C = SpiffeId.parse("spiffe://example.org/tool/c");

    protected final MutableClock clock = new MutableClock(T0);
    private final List<Store> opened = Collections.synchronizedList(new ArrayList<>());

    /** A store on a new, empty database, using {@link #clock}. */
    protected abstract Store newStore();

    /** Another store on the database of the latest {@link #newStore()}, as a restart or a second replica. */
    protected abstract Store reopenStore();

    /** A plain JDBC connection to the database of the latest {@link #newStore()}, bypassing the store. */
    protected abstract Connection rawConnection() throws SQLException;

    /** Remembers a store so that it is closed after the test. */
    protected final <S extends Store> S track(S store) {
        opened.add(store);
        return store;
    }

    @AfterEach
    void closeStores() {
        for (Store s : opened) {
            s.close();
        }
    }

    // ---- fixtures -------------------------------------------------------------------------------------------

    static CaRecord ca(String id, CaState state, Instant createdAt) {
        return new CaRecord(id, state, "-----BEGIN CERTIFICATE-----\n" + id + "\n-----END CERTIFICATE-----\n",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nkey-" + id + "\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "-----BEGIN CERTIFICATE-----\nanchor\n-----END CERTIFICATE-----\n", createdAt,
                createdAt.plus(Duration.ofDays(365)), "generated", createdAt, createdAt);
    }

    static Workload workload(SpiffeId id, String purpose) {
        return new Workload(id, "alice@example.org", "team-agents", purpose, List.of("search", "fetch_url"),
                Duration.ofMinutes(15), Duration.ofHours(2), T0, T0);
    }

    static JoinTokenRecord token(String hash, SpiffeId id, Instant expiresAt) {
        return new JoinTokenRecord(hash, id, T0, expiresAt, "spiffe://example.org/operator/bob");
    }

    static SvidRecord svid(String serial, SpiffeId id, String caId, Instant issuedAt, Instant notAfter) {
        return new SvidRecord(serial, id, caId, "join", "sha256:" + serial, "EC", 256, issuedAt, notAfter, issuedAt,
                "-----BEGIN CERTIFICATE-----\n" + serial + "\n-----END CERTIFICATE-----\n");
    }

    static AuditEvent event(String kind, Instant at, Map<String, Object> details) {
        return new AuditEvent(at, kind, "system", "POST /v1/svids", AGENT_A.toString(), "ok", "task-1", details);
    }

    // ---- transactions ---------------------------------------------------------------------------------------

    @Test
    void transactionCommitsTheStateChangeItsAuditAndItsRevisionTogether() {
        Store store = newStore();
        List<String> afterCommit = new ArrayList<>();

        long revision = store.inTransaction("register", () -> {
            store.insertWorkload(workload(AGENT_A, "triage mail"));
            store.appendAudit(event("workload.registered", T0, Map.of()));
            store.afterCommit(() -> afterCommit.add("woken"));
            // Reads inside see the transaction's own writes; nothing ran after commit yet.
            assertThat(store.workload(AGENT_A)).isPresent();
            assertThat(store.inTransaction()).isTrue();
            assertThat(afterCommit).isEmpty();
            return store.appendRevision("revocation", "{}", T0);
        });

        assertThat(revision).isEqualTo(1);
        assertThat(afterCommit).containsExactly("woken");
        assertThat(store.inTransaction()).isFalse();
        Store other = track(reopenStore());
        assertThat(other.workload(AGENT_A)).isPresent();
        assertThat(other.audit(0, 10)).extracting(r -> r.event().kind()).containsExactly("workload.registered");
        assertThat(other.latestRevision()).isEqualTo(1);
        assertThat(other.verifyAudit().intact()).isTrue();
    }

    @Test
    void failureInsideATransactionLeavesNothingOfItBehind() {
        Store store = newStore();
        store.appendAudit(event("before", T0, Map.of()));
        List<String> afterCommit = new ArrayList<>();

        assertThatThrownBy(() -> store.inTransaction("complete", () -> {
            store.insertWorkload(workload(AGENT_A, "triage mail"));
            store.appendAudit(event("workload.registered", T0, Map.of()));
            store.appendRevision("revocation", "{}", T0);
            store.afterCommit(() -> afterCommit.add("woken"));
            throw new IllegalStateException("crash between the writes");
        })).isInstanceOf(IllegalStateException.class).hasMessage("crash between the writes");

        assertThat(afterCommit).isEmpty();
        assertThat(store.workload(AGENT_A)).isEmpty();
        assertThat(store.audit(0, 10)).extracting(r -> r.event().kind()).containsExactly("before");
        assertThat(store.latestRevision()).isZero();
        assertThat(store.verifyAudit().intact()).isTrue();
        // The next operation numbers on from the committed state: no gap where the rolled-back writes were.
        assertThat(store.appendAudit(event("after", T0, Map.of())).seq()).isEqualTo(2);
        assertThat(store.appendRevision("revocation", "{}", T0)).isEqualTo(1);
    }

    @Test
    void conflictInsideATransactionEndsTheWholeTransactionEvenWhenCaught() {
        Store store = newStore();
        store.insertWorkload(workload(AGENT_A, "triage mail"));

        assertThatThrownBy(() -> store.inTransaction("register twice", () -> {
            store.insertWorkload(workload(AGENT_B, "summarise"));
            try {
                store.insertWorkload(workload(AGENT_A, "again"));
            } catch (StoreConflictException expected) {
                // swallowed on purpose: the primitive must still refuse to commit half an operation
            }
            return null;
        })).isInstanceOf(StoreException.class).hasMessageContaining("register twice");

        assertThat(store.workload(AGENT_B)).isEmpty();
        assertThat(store.workloads()).extracting(Workload::id).containsExactly(AGENT_A);
    }

    @Test
    void nestedTransactionsJoinTheOuterOne() {
        Store store = newStore();

        assertThatThrownBy(() -> store.inTransaction("outer", () -> {
            store.inTransaction("inner", () -> store.insertWorkload(workload(AGENT_A, "triage mail")));
            throw new IllegalStateException("outer fails after inner returned");
        })).isInstanceOf(IllegalStateException.class);

        assertThat(store.workload(AGENT_A)).isEmpty();
    }

    @Test
    void afterCommitOutsideATransactionRunsAtOnce() {
        Store store = newStore();
        List<String> ran = new ArrayList<>();
        store.afterCommit(() -> ran.add("now"));
        assertThat(ran).containsExactly("now");
    }

    // ---- CA slots -------------------------------------------------------------------------------------------

    @Test
    void caRecordsRoundTripInCreationOrder() {
        Store store = newStore();
        assertThat(store.caRecords()).isEmpty();
        // ids deliberately not in insertion order, and the same creation instant for two of them
        CaRecord c = ca("cc", CaState.ACTIVE, T0);
        CaRecord a = ca("aa", CaState.PREPARED, T0);
        CaRecord b = ca("bb", CaState.OLD, T0.plusSeconds(5));
        store.insertCa(c);
        store.insertCa(a);
        store.insertCa(b);

        assertThat(store.caRecords()).containsExactly(c, a, b);
    }

    @Test
    void insertingACaTwiceIsAConflictAndChangesNothing() {
        Store store = newStore();
        CaRecord first = ca("aa", CaState.ACTIVE, T0);
        store.insertCa(first);

        assertThatThrownBy(() -> store.insertCa(ca("aa", CaState.PREPARED, T0.plusSeconds(1))))
                .isInstanceOf(StoreConflictException.class)
                .hasMessageContaining("CA aa already exists");
        CaRecord second = ca("bb", CaState.PREPARED, T0);
        store.insertCa(second);
        assertThat(store.caRecords()).containsExactly(first, second);
    }

    @Test
    void updateCaStateMovesTheSlotAndReportsAMissingCa() {
        Store store = newStore();
        CaRecord active = ca("aa", CaState.ACTIVE, T0);
        store.insertCa(active);
        Instant later = T0.plus(Duration.ofDays(30));

        assertThat(store.updateCaState("aa", CaState.OLD, later)).isTrue();
        assertThat(store.updateCaState("missing", CaState.OLD, later)).isFalse();
        assertThat(store.caRecords()).containsExactly(active.withState(CaState.OLD, later));
    }

    @Test
    void bundleSequenceStartsAtZeroAndAdvancesByOne() {
        Store store = newStore();
        assertThat(store.bundleSequence()).isZero();
        assertThat(store.nextBundleSequence()).isEqualTo(1);
        assertThat(store.nextBundleSequence()).isEqualTo(2);
        assertThat(store.bundleSequence()).isEqualTo(2);
    }

    @Test
    void bundleSequenceIsStrictlyIncreasingAcrossConcurrentReplicas() throws Exception {
        Store one = newStore();
        Store two = track(reopenStore());
        int threads = 8;
        int perThread = 25;

        List<List<Long>> seen = concurrently(threads, t -> () -> {
            Store store = t % 2 == 0 ? one : two;
            List<Long> values = new ArrayList<>();
            for (int i = 0; i < perThread; i++) {
                values.add(store.nextBundleSequence());
            }
            return values;
        });

        List<Long> all = new ArrayList<>();
        for (List<Long> values : seen) {
            assertThat(values).isSorted().doesNotHaveDuplicates();
            all.addAll(values);
        }
        assertThat(all).hasSize(threads * perThread).doesNotHaveDuplicates()
                .allSatisfy(v -> assertThat(v).isBetween(1L, (long) threads * perThread));
        assertThat(one.bundleSequence()).isEqualTo(threads * perThread);
    }

    // ---- revision log ---------------------------------------------------------------------------------------

    @Test
    void revisionLogStartsEmptyAndNumbersAppendsFromOne() {
        Store store = newStore();
        assertThat(store.latestRevision()).isZero();
        assertThat(store.oldestRetainedRevision()).isEqualTo(1);
        assertThat(store.revisionsAfter(0, 10)).isEmpty();

        assertThat(store.appendRevision("bundle", "{\"sequence\":1}", T0)).isEqualTo(1);
        assertThat(store.appendRevision("revocation", "{\"id\":\"t1\"}", T0.plusMillis(1500))).isEqualTo(2);

        assertThat(store.latestRevision()).isEqualTo(2);
        assertThat(store.oldestRetainedRevision()).isEqualTo(1);
        assertThat(track(reopenStore()).revisionsAfter(0, 10)).containsExactly(
                new RevisionRecord(1, "bundle", "{\"sequence\":1}", T0),
                new RevisionRecord(2, "revocation", "{\"id\":\"t1\"}", T0.plusMillis(1500)));
    }

    @Test
    void latestRevisionOfAKindIsTheNewestRetainedOne() {
        Store store = newStore();
        assertThat(store.latestRevisionOfKind("bundle")).isEmpty();
        store.appendRevision("bundle", "{\"sequence\":1}", T0);
        store.appendRevision("bundle", "{\"sequence\":2}", T0);
        store.appendRevision("policy", "{}", T0);

        assertThat(store.latestRevisionOfKind("bundle")).map(RevisionRecord::payloadJson).contains("{\"sequence\":2}");
        store.pruneRevisionsBefore(3);
        assertThat(store.latestRevisionOfKind("bundle")).isEmpty();
        assertThat(store.latestRevisionOfKind("policy")).map(RevisionRecord::revision).contains(3L);
    }

    @Test
    void revisionsArePagedAfterARevisionOldestFirst() {
        Store store = newStore();
        for (int i = 1; i <= 7; i++) {
            store.appendRevision("policy", "{\"version\":" + i + "}", T0);
        }
        assertThat(store.revisionsAfter(2, 3)).extracting(RevisionRecord::revision).containsExactly(3L, 4L, 5L);
        assertThat(store.revisionsAfter(5, 100)).extracting(RevisionRecord::revision).containsExactly(6L, 7L);
        assertThat(store.revisionsAfter(7, 100)).isEmpty();
        assertThatThrownBy(() -> store.revisionsAfter(-1, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("after: -1 (expected: >= 0)");
        assertThatThrownBy(() -> store.revisionsAfter(0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("limit: 0 (expected: > 0)");
    }

    @Test
    void pruningKeepsTheRevisionCounter() {
        Store store = newStore();
        for (int i = 1; i <= 5; i++) {
            store.appendRevision("bundle", "{\"sequence\":" + i + "}", T0);
        }
        assertThat(store.pruneRevisionsBefore(4)).isEqualTo(3);
        assertThat(store.oldestRetainedRevision()).isEqualTo(4);
        assertThat(store.revisionsAfter(0, 10)).extracting(RevisionRecord::revision).containsExactly(4L, 5L);

        assertThat(store.pruneRevisionsBefore(100)).isEqualTo(2);
        assertThat(store.latestRevision()).isEqualTo(5);
        assertThat(store.oldestRetainedRevision()).isEqualTo(6);
        assertThat(store.appendRevision("bundle", "{}", T0)).isEqualTo(6);
        assertThat(store.oldestRetainedRevision()).isEqualTo(6);
    }

    @Test
    void revisionPayloadMustBeJsonWithinTheSizeLimit() {
        Store store = newStore();
        String big = "\"" + "x".repeat(Store.MAX_REVISION_PAYLOAD_BYTES) + "\"";
        assertThatThrownBy(() -> store.appendRevision("policy", big, T0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("payloadJson: " + (Store.MAX_REVISION_PAYLOAD_BYTES + 2) + " bytes (expected: <= "
                        + Store.MAX_REVISION_PAYLOAD_BYTES + ")");
        assertThatThrownBy(() -> store.appendRevision("policy", "{not json", T0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("payloadJson: not JSON");
        assertThatThrownBy(() -> store.appendRevision("", "{}", T0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.appendRevision(null, "{}", T0))
                .isInstanceOf(NullPointerException.class).hasMessage("kind: null (expected: non-null)");
        assertThat(store.latestRevision()).isZero();
    }

    @Test
    void revisionsAreGaplessAndStrictlyIncreasingAcrossConcurrentReplicas() throws Exception {
        Store one = newStore();
        Store two = track(reopenStore());
        int threads = 8;
        int perThread = 20;

        List<List<Long>> seen = concurrently(threads, t -> () -> {
            Store store = t % 2 == 0 ? one : two;
            List<Long> values = new ArrayList<>();
            for (int i = 0; i < perThread; i++) {
                values.add(store.appendRevision("revocation", "{\"thread\":" + t + ",\"i\":" + i + "}", T0));
            }
            return values;
        });

        List<Long> all = new ArrayList<>();
        for (List<Long> values : seen) {
            assertThat(values).isSorted().doesNotHaveDuplicates();
            all.addAll(values);
        }
        assertThat(all).hasSize(threads * perThread).doesNotHaveDuplicates();
        List<RevisionRecord> stored = two.revisionsAfter(0, 1000);
        assertThat(stored).extracting(RevisionRecord::revision)
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, threads * perThread).boxed()
                        .toList());
        assertThat(one.latestRevision()).isEqualTo(threads * perThread);
    }

    // ---- workloads ------------------------------------------------------------------------------------------

    @Test
    void workloadRoundTripsAndListsBySpiffeId() {
        Store store = newStore();
        Workload b = workload(AGENT_B, "summarise tickets");
        Workload c = new Workload(TOOL_C, "carol@example.org", "team-tools", "", List.of(), Duration.ofMillis(1),
                Duration.ofDays(1), T0.plusMillis(1), T0.plusMillis(2));
        Workload a = workload(AGENT_A, "triage mail");
        store.insertWorkload(b);
        store.insertWorkload(c);
        store.insertWorkload(a);

        assertThat(store.workload(AGENT_A)).contains(a);
        assertThat(store.workload(TOOL_C)).contains(c);
        assertThat(store.workload(SpiffeId.parse("spiffe://example.org/agent/nobody"))).isEmpty();
        assertThat(store.workloads()).containsExactly(a, b, c);
    }

    @Test
    void insertingAWorkloadTwiceIsAConflict() {
        Store store = newStore();
        Workload original = workload(AGENT_A, "triage mail");
        store.insertWorkload(original);

        assertThatThrownBy(() -> store.insertWorkload(workload(AGENT_A, "something else")))
                .isInstanceOf(StoreConflictException.class)
                .hasMessageContaining("workload spiffe://example.org/agent/a already exists");
        assertThat(store.workloads()).containsExactly(original);
    }

    @Test
    void updateWorkloadReplacesTheRegistrationAndReportsAMissingOne() {
        Store store = newStore();
        store.insertWorkload(workload(AGENT_A, "triage mail"));
        Workload changed = new Workload(AGENT_A, "dave@example.org", "team-ops", "triage and reply",
                List.of("send_mail"), Duration.ofMinutes(5), Duration.ofMinutes(30), T0, T0.plusSeconds(60));

        assertThat(store.updateWorkload(changed)).isTrue();
        assertThat(store.workload(AGENT_A)).contains(changed);
        assertThat(store.updateWorkload(workload(AGENT_B, "absent"))).isFalse();
        assertThat(store.workload(AGENT_B)).isEmpty();
    }

    @Test
    void deleteWorkloadRemovesItOnceAndReportsAMissingOne() {
        Store store = newStore();
        store.insertWorkload(workload(AGENT_A, "triage mail"));
        store.insertWorkload(workload(AGENT_B, "summarise"));

        assertThat(store.deleteWorkload(AGENT_A)).isTrue();
        assertThat(store.deleteWorkload(AGENT_A)).isFalse();
        assertThat(store.workload(AGENT_A)).isEmpty();
        assertThat(store.workloads()).extracting(Workload::id).containsExactly(AGENT_B);
    }

    static Workload selected(SpiffeId id, K8sSelector... selectors) {
        Workload w = workload(id, "attests in Kubernetes");
        return new Workload(w.id(), w.humanOwner(), w.serviceOwner(), w.purpose(), w.tools(), w.maxSvidTtl(),
                w.maxTaskTtl(), w.createdAt(), w.updatedAt(), List.of(selectors));
    }

    @Test
    void k8sSelectorsRoundTripInOrderWithTheirWorkload() {
        Store store = newStore();
        Workload a = selected(AGENT_A, new K8sSelector("prod", "agents", "triage"),
                new K8sSelector(null, "agents", "triage-canary"), new K8sSelector("dev", "sandbox", "triage"));
        store.insertWorkload(a);
        store.insertWorkload(workload(AGENT_B, "no selectors"));

        assertThat(store.workload(AGENT_A)).contains(a);
        assertThat(store.workload(AGENT_A).orElseThrow().k8sSelectors()).extracting(K8sSelector::toString)
                .containsExactly("prod/agents/triage", "*/agents/triage-canary", "dev/sandbox/triage");
        assertThat(store.workload(AGENT_B).orElseThrow().k8sSelectors()).isEmpty();
        assertThat(store.workloads()).extracting(Workload::k8sSelectors)
                .containsExactly(a.k8sSelectors(), List.of());
    }

    @Test
    void updatingAWorkloadReplacesItsK8sSelectorsAndDeletingItDropsThem() {
        Store store = newStore();
        store.insertWorkload(selected(AGENT_A, new K8sSelector("prod", "agents", "triage")));
        Workload moved = selected(AGENT_A, new K8sSelector("prod", "agents-v2", "triage"));

        assertThat(store.updateWorkload(moved)).isTrue();
        assertThat(store.workload(AGENT_A)).contains(moved);
        assertThat(store.workloadsSelectedByK8s("prod", "agents", "triage")).isEmpty();
        assertThat(store.workloadsSelectedByK8s("prod", "agents-v2", "triage")).containsExactly(moved);

        assertThat(store.deleteWorkload(AGENT_A)).isTrue();
        assertThat(store.workloadsSelectedByK8s("prod", "agents-v2", "triage")).isEmpty();
        store.insertWorkload(workload(AGENT_A, "registered again without selectors"));
        assertThat(store.workload(AGENT_A).orElseThrow().k8sSelectors()).isEmpty();
    }

    @Test
    void workloadsSelectedByK8sMatchNamespaceAndServiceAccountInTheClusterOrInAnyCluster() {
        Store store = newStore();
        Workload prod = selected(AGENT_A, new K8sSelector("prod", "agents", "triage"));
        Workload anyCluster = selected(AGENT_B, new K8sSelector(null, "agents", "triage"));
        Workload other = selected(TOOL_C, new K8sSelector("prod", "agents", "search"),
                new K8sSelector("prod", "tools", "triage"));
        store.insertWorkload(other);
        store.insertWorkload(prod);
        store.insertWorkload(anyCluster);

        assertThat(store.workloadsSelectedByK8s("prod", "agents", "triage")).containsExactly(prod, anyCluster);
        assertThat(store.workloadsSelectedByK8s("dev", "agents", "triage")).containsExactly(anyCluster);
        assertThat(store.workloadsSelectedByK8s("prod", "agents", "search")).containsExactly(other);
        assertThat(store.workloadsSelectedByK8s("prod", "tools", "triage")).containsExactly(other);
        assertThat(store.workloadsSelectedByK8s("prod", "tools", "search")).isEmpty();
        assertThat(store.workloadsSelectedByK8s("prod", "Agents", "triage")).as("names are exact").isEmpty();
    }

    @Test
    void aWorkloadMatchingTwiceIsFoundOnce() {
        Store store = newStore();
        Workload both = selected(AGENT_A, new K8sSelector("prod", "agents", "triage"),
                new K8sSelector(null, "agents", "triage"));
        store.insertWorkload(both);

        assertThat(store.workloadsSelectedByK8s("prod", "agents", "triage")).containsExactly(both);
    }

    @Test
    void aWorkloadWithTwoEqualSelectorsIsNotStored() {
        Store store = newStore();
        Workload twice = selected(AGENT_A, new K8sSelector("prod", "agents", "triage"),
                new K8sSelector("prod", "agents", "triage"));

        assertThatThrownBy(() -> store.insertWorkload(twice)).isInstanceOf(StoreException.class);
        assertThat(store.workload(AGENT_A)).isEmpty();
    }

    // ---- join tokens ----------------------------------------------------------------------------------------

    @Test
    void joinTokenIsRedeemedOnceThenReportedAsUsed() {
        Store store = newStore();
        store.insertJoinToken(token("h1", AGENT_A, T0.plus(Duration.ofMinutes(10))));

        assertThat(store.redeemJoinToken("h1", clock.instant()))
                .isEqualTo(new JoinTokenRedemption(Outcome.REDEEMED, Optional.of(AGENT_A)));
        clock.advance(Duration.ofSeconds(1));
        assertThat(store.redeemJoinToken("h1", clock.instant()))
                .isEqualTo(new JoinTokenRedemption(Outcome.ALREADY_USED, Optional.of(AGENT_A)));
    }

    @Test
    void unknownJoinTokenIsReportedWithoutAWorkload() {
        Store store = newStore();
        store.insertJoinToken(token("h1", AGENT_A, T0.plus(Duration.ofMinutes(10))));

        assertThat(store.redeemJoinToken("other", clock.instant()))
                .isEqualTo(new JoinTokenRedemption(Outcome.UNKNOWN, Optional.empty()));
    }

    @Test
    void joinTokenExpiresAtItsExpiryInstant() {
        Store store = newStore();
        Instant expiry = T0.plus(Duration.ofMinutes(10));
        store.insertJoinToken(token("early", AGENT_A, expiry));
        store.insertJoinToken(token("late", AGENT_B, expiry));

        clock.advance(Duration.ofMinutes(10).minusMillis(1));
        assertThat(store.redeemJoinToken("early", clock.instant()).outcome()).isEqualTo(Outcome.REDEEMED);
        clock.advance(Duration.ofMillis(1));
        assertThat(store.redeemJoinToken("late", clock.instant()))
                .isEqualTo(new JoinTokenRedemption(Outcome.EXPIRED, Optional.of(AGENT_B)));
        clock.advance(Duration.ofDays(1));
        assertThat(store.redeemJoinToken("late", clock.instant()).outcome()).isEqualTo(Outcome.EXPIRED);
        assertThat(store.redeemJoinToken("early", clock.instant()).outcome()).isEqualTo(Outcome.ALREADY_USED);
    }

    @Test
    void insertingAJoinTokenTwiceIsAConflict() {
        Store store = newStore();
        store.insertJoinToken(token("h1", AGENT_A, T0.plusSeconds(60)));

        assertThatThrownBy(() -> store.insertJoinToken(token("h1", AGENT_B, T0.plusSeconds(600))))
                .isInstanceOf(StoreConflictException.class)
                .hasMessageContaining("join token");
        assertThat(store.redeemJoinToken("h1", T0).workload()).contains(AGENT_A);
    }

    @Test
    void joinTokenIsRedeemedExactlyOnceUnderConcurrentUse() throws Exception {
        Store one = newStore();
        Store two = track(reopenStore());
        one.insertJoinToken(token("contested", AGENT_A, T0.plus(Duration.ofMinutes(10))));
        int redeemers = 16;

        List<JoinTokenRedemption> results = concurrently(redeemers,
                t -> () -> (t % 2 == 0 ? one : two).redeemJoinToken("contested", T0.plusSeconds(1)));

        assertThat(results).filteredOn(r -> r.outcome() == Outcome.REDEEMED).hasSize(1);
        assertThat(results).filteredOn(r -> r.outcome() == Outcome.ALREADY_USED).hasSize(redeemers - 1);
        assertThat(results).allSatisfy(r -> assertThat(r.workload()).contains(AGENT_A));
    }

    // ---- issued certificates --------------------------------------------------------------------------------

    @Test
    void svidRoundTripsAndAMissingSerialIsEmpty() {
        Store store = newStore();
        SvidRecord svid = new SvidRecord("0a1b2c", AGENT_A, "ca1", "renewal", "sha256:abc", "RSA", 3072, T0,
                T0.plus(Duration.ofHours(1)), T0.plusMillis(7), "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
        store.insertSvid(svid);

        assertThat(store.svid("0a1b2c")).contains(svid);
        assertThat(store.svid("ffff")).isEmpty();
    }

    @Test
    void insertingAnSvidWithAKnownSerialIsAConflict() {
        Store store = newStore();
        SvidRecord first = svid("01", AGENT_A, "ca1", T0, T0.plusSeconds(3600));
        store.insertSvid(first);

        assertThatThrownBy(() -> store.insertSvid(svid("01", AGENT_B, "ca1", T0, T0.plusSeconds(60))))
                .isInstanceOf(StoreConflictException.class)
                .hasMessageContaining("SVID serial 01 already exists");
        assertThat(store.svid("01")).contains(first);
    }

    @Test
    void svidsAreNewestFirstFilteredByIdentityAndLimited() {
        Store store = newStore();
        SvidRecord a1 = svid("a1", AGENT_A, "ca1", T0, T0.plusSeconds(3600));
        SvidRecord b1 = svid("b1", AGENT_B, "ca1", T0.plusSeconds(10), T0.plusSeconds(3610));
        SvidRecord a2 = svid("a2", AGENT_A, "ca1", T0.plusSeconds(20), T0.plusSeconds(3620));
        SvidRecord a3 = svid("a3", AGENT_A, "ca2", T0.plusSeconds(30), T0.plusSeconds(3630));
        SvidRecord b2 = svid("b2", AGENT_B, "ca2", T0.plusSeconds(40), T0.plusSeconds(3640));
        // inserted out of issue order: the order must come from issuedAt, not from insertion
        for (SvidRecord s : List.of(a2, b2, a1, a3, b1)) {
            store.insertSvid(s);
        }

        assertThat(store.svids(Optional.empty(), 100)).containsExactly(b2, a3, a2, b1, a1);
        assertThat(store.svids(Optional.empty(), 2)).containsExactly(b2, a3);
        assertThat(store.svids(Optional.of(AGENT_A), 100)).containsExactly(a3, a2, a1);
        assertThat(store.svids(Optional.of(AGENT_A), 1)).containsExactly(a3);
        assertThat(store.svids(Optional.of(TOOL_C), 10)).isEmpty();
    }

    @Test
    void svidsIssuedInTheSameMillisecondComeByDescendingSerial() {
        Store store = newStore();
        SvidRecord x = svid("0b", AGENT_A, "ca1", T0, T0.plusSeconds(60));
        SvidRecord y = svid("0c", AGENT_A, "ca1", T0, T0.plusSeconds(60));
        SvidRecord z = svid("0a", AGENT_A, "ca1", T0, T0.plusSeconds(60));
        store.insertSvid(x);
        store.insertSvid(y);
        store.insertSvid(z);

        assertThat(store.svids(Optional.of(AGENT_A), 10)).containsExactly(y, x, z);
    }

    @Test
    void svidsRefusesANonPositiveLimit() {
        Store store = newStore();
        assertThatThrownBy(() -> store.svids(Optional.empty(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("limit: 0 (expected: > 0)");
    }

    @Test
    void latestExpiryIssuedByIsTheLatestNotAfterOfThatCaOnly() {
        Store store = newStore();
        store.insertSvid(svid("01", AGENT_A, "ca1", T0, T0.plusSeconds(500)));
        store.insertSvid(svid("02", AGENT_B, "ca1", T0.plusSeconds(10), T0.plusSeconds(900)));
        store.insertSvid(svid("03", AGENT_A, "ca1", T0.plusSeconds(20), T0.plusSeconds(700)));
        store.insertSvid(svid("04", AGENT_A, "ca2", T0.plusSeconds(30), T0.plusSeconds(5000)));

        assertThat(store.latestExpiryIssuedBy("ca1")).contains(T0.plusSeconds(900));
        assertThat(store.latestExpiryIssuedBy("ca2")).contains(T0.plusSeconds(5000));
        assertThat(store.latestExpiryIssuedBy("ca3")).isEmpty();
    }

    // ---- operator credentials -------------------------------------------------------------------------------

    static final SpiffeId OPERATOR_BOB = SpiffeId.parse("spiffe://example.org/operator/bob");
    static final SpiffeId OPERATOR_EVE = SpiffeId.parse("spiffe://example.org/operator/eve");

    @Test
    void operatorCredentialsRoundTripNewestFirstFilteredByOperatorAndSurviveAReopen() {
        Store store = newStore();
        var b1 = new OperatorCredentialRecord("b1", OPERATOR_BOB, "operator", "bob@example.com",
                "spiffe://example.org/operator/admin", T0, T0.plus(Duration.ofHours(8)));
        var e1 = new OperatorCredentialRecord("e1", OPERATOR_EVE, "viewer", "eve@example.com", "system",
                T0.plusSeconds(10), T0.plus(Duration.ofDays(1)));
        var b2 = new OperatorCredentialRecord("b2", OPERATOR_BOB, "admin", "bob@example.com",
                "spiffe://example.org/operator/admin", T0.plusSeconds(20), T0.plus(Duration.ofHours(9)));
        store.insertOperatorCredential(b1);
        store.insertOperatorCredential(e1);
        store.insertOperatorCredential(b2);

        assertThat(store.operatorCredentials(Optional.empty(), 10)).containsExactly(b2, e1, b1);
        assertThat(store.operatorCredentials(Optional.of(OPERATOR_BOB), 10)).containsExactly(b2, b1);
        assertThat(store.operatorCredentials(Optional.empty(), 1)).containsExactly(b2);
        assertThat(track(reopenStore()).operatorCredentials(Optional.of(OPERATOR_EVE), 10)).containsExactly(e1);
        assertThatThrownBy(() -> store.operatorCredentials(Optional.empty(), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("limit: 0 (expected: > 0)");
    }

    @Test
    void insertingAnOperatorCredentialWithAKnownSerialIsAConflictAndATransactionTakesItWithTheCertificate() {
        Store store = newStore();
        var cred = new OperatorCredentialRecord("0c", OPERATOR_BOB, "viewer", "bob@example.com", "system", T0,
                T0.plusSeconds(3600));
        store.inTransaction("issue", () -> {
            store.insertSvid(svid("0c", OPERATOR_BOB, "ca1", T0, T0.plusSeconds(3600)));
            store.insertOperatorCredential(cred);
        });
        assertThatThrownBy(() -> store.insertOperatorCredential(new OperatorCredentialRecord("0c", OPERATOR_EVE,
                "admin", "eve@example.com", "system", T0, T0.plusSeconds(60))))
                .isInstanceOf(StoreConflictException.class);
        assertThatThrownBy(() -> store.inTransaction("issue again", () -> {
            store.insertSvid(svid("0d", OPERATOR_EVE, "ca1", T0, T0.plusSeconds(60)));
            store.insertOperatorCredential(new OperatorCredentialRecord("0c", OPERATOR_EVE, "admin",
                    "eve@example.com", "system", T0, T0.plusSeconds(60)));
        })).isInstanceOf(StoreConflictException.class);

        assertThat(store.operatorCredentials(Optional.empty(), 10)).containsExactly(cred);
        assertThat(store.svid("0d")).isEmpty();
    }

    // ---- audit ----------------------------------------------------------------------------------------------

    @Test
    void auditHashIsSha256OfPrevHashAndCanonicalJson() throws Exception {
        Store store = newStore();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("z", "last");
        details.put("a", 1);
        details.put("m", true);
        details.put("f", 0.5);
        AuditRecord first = store.appendAudit(event("svid.issued", T0, details));

        String canonical = "{\"at\":1893456000000,\"kind\":\"svid.issued\",\"actor\":\"system\","
                + "\"action\":\"POST /v1/svids\",\"subject\":\"spiffe://example.org/agent/a\",\"result\":\"ok\","
                + "\"taskId\":\"task-1\",\"details\":{\"a\":1,\"f\":0.5,\"m\":true,\"z\":\"last\"}}";
        String zeros = "0".repeat(64);
        assertThat(first.seq()).isEqualTo(1);
        assertThat(first.prevHash()).isEqualTo(zeros);
        assertThat(first.hash()).isEqualTo(sha256Hex(zeros + canonical));

        AuditRecord second = store.appendAudit(new AuditEvent(T0.plusMillis(1), "operator.action", "system",
                "DELETE /v1/workloads", "", "denied", null, Map.of()));
        String canonical2 = "{\"at\":1893456000001,\"kind\":\"operator.action\",\"actor\":\"system\","
                + "\"action\":\"DELETE /v1/workloads\",\"subject\":\"\",\"result\":\"denied\",\"taskId\":null,"
                + "\"details\":{}}";
        assertThat(second.seq()).isEqualTo(2);
        assertThat(second.prevHash()).isEqualTo(first.hash());
        assertThat(second.hash()).isEqualTo(sha256Hex(first.hash() + canonical2));
    }

    @Test
    void auditEventsReadBackAsAppendedAndPageBySeq() {
        Store store = newStore();
        List<AuditRecord> appended = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            appended.add(store.appendAudit(event("svid.issued", T0.plusSeconds(i),
                    Map.of("n", i, "big", 1L << 40, "ratio", 1.25, "ok", i % 2 == 0, "serial", "s" + i))));
        }

        assertThat(appended).extracting(AuditRecord::seq).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(appended.get(0).event().details()).containsEntry("n", 0L);
        assertThat(store.audit(0, 100)).containsExactlyElementsOf(appended);
        assertThat(store.audit(0, 2)).containsExactlyElementsOf(appended.subList(0, 2));
        assertThat(store.audit(2, 2)).containsExactlyElementsOf(appended.subList(2, 4));
        assertThat(store.audit(5, 10)).isEmpty();
    }

    @Test
    void auditBatchAppendsInOrderAsOneChainOrNothing() {
        Store store = newStore();
        AuditRecord before = store.appendAudit(event("svid.issued", T0, Map.of()));
        List<AuditRecord> batch = store.appendAuditBatch(List.of(event("decision.denied", T0, Map.of("n", 1)),
                event("decision.allowed", T0, Map.of("n", 2)), event("decision.denied", T0, Map.of("n", 3))));

        assertThat(batch).extracting(AuditRecord::seq).containsExactly(2L, 3L, 4L);
        assertThat(batch.get(0).prevHash()).isEqualTo(before.hash());
        assertThat(batch.get(2).prevHash()).isEqualTo(batch.get(1).hash());
        assertThat(store.audit(1, 10)).containsExactlyElementsOf(batch);
        assertThat(store.verifyAudit()).isEqualTo(new AuditVerification(true, 4, 0, "intact"));

        assertThatThrownBy(() -> store.appendAuditBatch(List.of(event("decision.denied", T0, Map.of()),
                event("decision.denied", T0, Map.of("nested", Map.of("a", 1))))))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.appendAuditBatch(List.of())).isInstanceOf(IllegalArgumentException.class);
        assertThat(store.audit(0, 10)).hasSize(4);
        assertThat(store.appendAudit(event("after", T0, Map.of())).seq()).isEqualTo(5);
        assertThat(store.verifyAudit().intact()).isTrue();
    }

    @Test
    void auditFiltersByKindTaskOutcomeTimeAndIdentityAndPagesWithinTheFilter() {
        Store store = newStore();
        String peer = "spiffe://example.org/agent/intruder";
        List<AuditRecord> r = store.appendAuditBatch(List.of(
                new AuditEvent(T0, "decision.denied", TOOL_C.toString(), "ingress", "/mcp", "denied", null,
                        Map.of("peer", peer, "reason", "peer_not_allowed")),
                new AuditEvent(T0.plusSeconds(10), "decision.denied", TOOL_C.toString(), "ingress", "/mcp", "denied",
                        "task-1", Map.of("sub", AGENT_A.toString(), "reason", "revoked")),
                new AuditEvent(T0.plusSeconds(20), "decision.allowed", TOOL_C.toString(), "ingress", "/mcp", "allowed",
                        "task-1", Map.of("sub", AGENT_A.toString())),
                new AuditEvent(T0.plusSeconds(30), "token.exchanged", AGENT_B.toString(), "token.exchange",
                        AGENT_B.toString(), "invalid_grant", "task-2", Map.of()),
                new AuditEvent(T0.plusSeconds(40), "operator.action", "operator:alice", "workload.register",
                        AGENT_A.toString(), "ok", null, Map.of())));

        assertThat(store.audit(AuditQuery.ALL.withKind("decision.denied"), 0, 10)).containsExactly(r.get(0), r.get(1));
        assertThat(store.audit(AuditQuery.ALL.withTaskId("task-1"), 0, 10)).containsExactly(r.get(1), r.get(2));
        assertThat(store.audit(AuditQuery.ALL.withOutcome("invalid_grant"), 0, 10)).containsExactly(r.get(3));
        assertThat(store.audit(AuditQuery.ALL.withSince(T0.plusSeconds(10)).withUntil(T0.plusSeconds(30)), 0, 10))
                .containsExactly(r.get(1), r.get(2));
        // attributed by the refused peer, by a denied token's subject, as actor and as subject
        assertThat(store.audit(AuditQuery.ALL.withIdentity(peer), 0, 10)).containsExactly(r.get(0));
        assertThat(store.audit(AuditQuery.ALL.withIdentity(AGENT_A.toString()), 0, 10))
                .containsExactly(r.get(1), r.get(2), r.get(4));
        assertThat(store.audit(AuditQuery.ALL.withIdentity(AGENT_B.toString()), 0, 10)).containsExactly(r.get(3));
        assertThat(store.audit(AuditQuery.ALL.withIdentity(TOOL_C.toString()), 0, 10)).hasSize(3);
        // filters combine, and paging by seq continues within them
        AuditQuery deniedA = AuditQuery.ALL.withIdentity(AGENT_A.toString()).withOutcome("denied");
        assertThat(store.audit(deniedA, 0, 10)).containsExactly(r.get(1));
        AuditQuery a = AuditQuery.ALL.withIdentity(AGENT_A.toString());
        assertThat(store.audit(a, 0, 1)).containsExactly(r.get(1));
        assertThat(store.audit(a, r.get(1).seq(), 1)).containsExactly(r.get(2));
        assertThat(store.audit(a, r.get(2).seq(), 10)).containsExactly(r.get(4));
        assertThat(store.audit(AuditQuery.ALL.withKind("no.such"), 0, 10)).isEmpty();
        assertThat(store.verifyAudit().intact()).isTrue();
    }

    @Test
    void anEventCutOffTheEndIsNotAttributedToTheEventThatReusesItsSeq() throws Exception {
        Store store = newStore();
        store.appendAudit(new AuditEvent(T0, "system", "system", "start", "", "ok", null, Map.of()));
        AuditRecord cut = store.appendAudit(new AuditEvent(T0, "decision.denied", TOOL_C.toString(), "ingress", "/",
                "denied", null, Map.of("peer", AGENT_B.toString())));
        raw("DELETE FROM audit_event WHERE seq = " + cut.seq());
        raw("UPDATE audit_head SET seq = 1, hash = '" + store.audit(0, 1).get(0).hash() + "' WHERE id = 1");

        AuditRecord next = store.appendAudit(new AuditEvent(T0, "decision.denied", TOOL_C.toString(), "ingress", "/",
                "denied", null, Map.of("peer", AGENT_A.toString())));

        assertThat(next.seq()).isEqualTo(cut.seq());
        assertThat(store.audit(AuditQuery.ALL.withIdentity(AGENT_B.toString()), 0, 10)).isEmpty();
        assertThat(store.audit(AuditQuery.ALL.withIdentity(AGENT_A.toString()), 0, 10)).containsExactly(next);
    }

    @Test
    void upstreamTlsKeepsOneRowPerWorkloadUpstreamAndSerialWithFirstAndLastSeen() {
        Store store = newStore();
        Instant notAfter = T0.plus(Duration.ofDays(90));
        UpstreamTlsRecord legacy = new UpstreamTlsRecord(AGENT_A.toString(), "legacy.example:443", "0A:1B",
                "TLSv1.2", "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", 1024, "SHA1withRSA", "CN=Legacy CA", notAfter,
                "legacy.example", T0, T0);
        store.recordUpstreamTls(List.of(legacy), T0);
        store.recordUpstreamTls(List.of(new UpstreamTlsRecord(AGENT_A.toString(), "legacy.example:443", "0A:1B",
                "TLSv1.3", "TLS_AES_128_GCM_SHA256", "RSA", 1024, "SHA1withRSA", "CN=Legacy CA", notAfter,
                "legacy.example", T0, T0)), T0.plusSeconds(60));
        store.recordUpstreamTls(List.of(new UpstreamTlsRecord(AGENT_B.toString(), "modern.example:443", "01",
                "TLSv1.3", "TLS_AES_256_GCM_SHA384", "EC", 256, "SHA256withECDSA", "CN=Modern", notAfter, null,
                T0, T0)), T0.plusSeconds(120));

        List<UpstreamTlsRecord> all = store.upstreamTls(10);
        assertThat(all).extracting(UpstreamTlsRecord::upstream).containsExactly("modern.example:443", "legacy.example:443");
        UpstreamTlsRecord l = all.get(1);
        assertThat(l.protocol()).isEqualTo("TLSv1.3");
        assertThat(l.firstSeen()).isEqualTo(T0);
        assertThat(l.lastSeen()).isEqualTo(T0.plusSeconds(60));
        assertThat(l.notAfter()).isEqualTo(notAfter);
        assertThat(all.get(0).peerId()).isNull();

        assertThat(store.pruneUpstreamTls(T0.plusSeconds(61))).isEqualTo(1);
        assertThat(store.upstreamTls(10)).extracting(UpstreamTlsRecord::workload).containsExactly(AGENT_B.toString());
    }

    @Test
    void exemptUseIsCountedPerWorkloadWithItsLastUse() {
        Store store = newStore();
        store.countExemptUse(AGENT_A.toString(), 2, T0);
        store.countExemptUse(AGENT_A.toString(), 3, T0.plusSeconds(30));
        store.countExemptUse(AGENT_B.toString(), 1, T0.minusSeconds(3600));

        assertThat(store.exemptUse(T0.minusSeconds(60), 10))
                .containsExactly(new ExemptUseRecord(AGENT_A.toString(), 5, T0, T0.plusSeconds(30)));
        assertThat(store.exemptUse(T0.minusSeconds(7200), 10)).hasSize(2);
    }

    @Test
    void auditRefusesDetailsThatAreNotPlainValues() {
        Store store = newStore();
        assertThatThrownBy(() -> store.appendAudit(event("x", T0, Map.of("nested", Map.of("a", 1)))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("event.details.nested");
        assertThatThrownBy(() -> store.appendAudit(event("x", T0, Map.of("nan", Double.NaN))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("event.details.nan");
        assertThat(store.audit(0, 10)).isEmpty();
        assertThat(store.verifyAudit()).isEqualTo(new AuditVerification(true, 0, 0, "intact"));
    }

    @Test
    void intactAuditChainVerifies() {
        Store store = newStore();
        assertThat(store.verifyAudit()).isEqualTo(new AuditVerification(true, 0, 0, "intact"));
        appendEvents(store, 4);

        assertThat(store.verifyAudit()).isEqualTo(new AuditVerification(true, 4, 0, "intact"));
    }

    @Test
    void auditAppendsFromConcurrentReplicasFormOneChain() throws Exception {
        Store one = newStore();
        Store two = track(reopenStore());
        int threads = 6;
        int perThread = 10;

        concurrently(threads, t -> () -> {
            for (int i = 0; i < perThread; i++) {
                (t % 2 == 0 ? one : two).appendAudit(event("svid.issued", T0.plusSeconds(i), Map.of("thread", t)));
            }
            return null;
        });

        List<AuditRecord> chain = one.audit(0, 1000);
        assertThat(chain).extracting(AuditRecord::seq)
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, threads * perThread)
                        .boxed().toList());
        assertThat(two.verifyAudit()).isEqualTo(new AuditVerification(true, threads * perThread, 0, "intact"));
    }

    @Test
    void auditKeepsWhenTheStoreRecordedEachEventOutsideTheHash() throws Exception {
        Store store = newStore();
        clock.advance(Duration.ofHours(3));
        AuditRecord backdated = store.appendAudit(event("svid.issued", T0, Map.of()));

        try (Connection c = rawConnection()) {
            assertThat(count(c, "SELECT recorded_at FROM audit_event WHERE seq = 1"))
                    .isEqualTo(T0.plus(Duration.ofHours(3)).toEpochMilli());
        }
        assertThat(backdated.event().at()).isEqualTo(T0);
        assertThat(store.verifyAudit().intact()).isTrue();
    }

    @Test
    void editedAuditEventIsReportedBySeq() throws Exception {
        Store store = newStore();
        appendEvents(store, 5);
        raw("UPDATE audit_event SET actor = 'mallory' WHERE seq = 3");

        AuditVerification v = store.verifyAudit();
        assertThat(v.intact()).isFalse();
        assertThat(v.firstBrokenSeq()).isEqualTo(3);
        assertThat(v.events()).isEqualTo(5);
        assertThat(v.reason()).contains("edited");
    }

    @Test
    void editedAuditDetailsAreReportedBySeq() throws Exception {
        Store store = newStore();
        appendEvents(store, 3);
        raw("UPDATE audit_event SET details_json = '{\"i\":99}' WHERE seq = 2");

        AuditVerification v = store.verifyAudit();
        assertThat(v.firstBrokenSeq()).isEqualTo(2);
        assertThat(v.reason()).contains("edited");
    }

    @Test
    void editedAuditEventWithARecomputedHashBreaksTheNextLink() throws Exception {
        Store store = newStore();
        List<AuditRecord> records = appendEvents(store, 5);
        AuditRecord third = records.get(2);
        AuditEvent forged = new AuditEvent(third.event().at(), third.event().kind(), "mallory",
                third.event().action(), third.event().subject(), third.event().result(), third.event().taskId(),
                third.event().details());
        String forgedHash = AuditChain.hash(third.prevHash(), AuditChain.normalize(forged));
        raw("UPDATE audit_event SET actor = 'mallory', hash = '" + forgedHash + "' WHERE seq = 3");

        AuditVerification v = store.verifyAudit();
        assertThat(v.firstBrokenSeq()).isEqualTo(4);
        assertThat(v.reason()).contains("does not link");
    }

    @Test
    void deletedAuditEventIsReportedAsAGap() throws Exception {
        Store store = newStore();
        appendEvents(store, 5);
        raw("DELETE FROM audit_event WHERE seq = 2");

        AuditVerification v = store.verifyAudit();
        assertThat(v.intact()).isFalse();
        assertThat(v.firstBrokenSeq()).isEqualTo(2);
        assertThat(v.events()).isEqualTo(4);
        assertThat(v.reason()).contains("missing");
    }

    @Test
    void reorderedAuditEventsAreReportedAtTheFirstMovedSeq() throws Exception {
        Store store = newStore();
        appendEvents(store, 5);
        raw("UPDATE audit_event SET seq = -1 WHERE seq = 2",
                "UPDATE audit_event SET seq = 2 WHERE seq = 3",
                "UPDATE audit_event SET seq = 3 WHERE seq = -1");

        AuditVerification v = store.verifyAudit();
        assertThat(v.firstBrokenSeq()).isEqualTo(2);
        assertThat(v.reason()).contains("does not link");
    }

    @Test
    void auditEventsCutOffTheEndAreReported() throws Exception {
        Store store = newStore();
        appendEvents(store, 5);
        raw("DELETE FROM audit_event WHERE seq >= 4");

        AuditVerification v = store.verifyAudit();
        assertThat(v.firstBrokenSeq()).isEqualTo(4);
        assertThat(v.reason()).contains("deleted from the end");
    }

    @Test
    void appendingAfterTamperingKeepsTheBreakVisible() throws Exception {
        Store store = newStore();
        appendEvents(store, 3);
        raw("UPDATE audit_event SET result = 'denied' WHERE seq = 2");
        store.appendAudit(event("late", T0.plusSeconds(60), Map.of()));

        AuditVerification v = store.verifyAudit();
        assertThat(v.firstBrokenSeq()).isEqualTo(2);
        assertThat(v.events()).isEqualTo(4);
    }

    // ---- audit checkpoints ----------------------------------------------------------------------------------

    static CheckpointKeyRecord checkpointKey(String id, Instant at) {
        return new CheckpointKeyRecord(id, true, "-----BEGIN PUBLIC KEY-----\n" + id + "\n-----END PUBLIC KEY-----\n",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + id + "\n-----END ENCRYPTED PRIVATE KEY-----\n", at, at);
    }

    @Test
    void aNewCheckpointKeyRetiresTheActiveOneAndOnlyIfNoneActiveKeepsTheFirst() {
        Store store = newStore();
        assertThat(store.insertCheckpointKey(checkpointKey("k1", T0), true)).isTrue();
        assertThat(store.insertCheckpointKey(checkpointKey("k2", T0.plusSeconds(1)), true)).isFalse();
        assertThat(store.insertCheckpointKey(checkpointKey("k3", T0.plusSeconds(2)), false)).isTrue();
        assertThat(store.checkpointKeys()).extracting(CheckpointKeyRecord::keyId, CheckpointKeyRecord::active)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("k1", false),
                        org.assertj.core.groups.Tuple.tuple("k3", true));
        assertThatThrownBy(() -> store.insertCheckpointKey(checkpointKey("k3", T0), false))
                .isInstanceOf(StoreConflictException.class);
    }

    @Test
    void checkpointsAreStoredOncePerSeqAndMatchedToTheEventsNow() throws Exception {
        Store store = newStore();
        appendEvents(store, 4);
        assertThat(store.auditHead().seq()).isEqualTo(4);
        String h2 = store.auditHashAt(2).orElseThrow();
        String h4 = store.auditHead().hash();
        assertThat(store.insertAuditCheckpoint(new AuditCheckpointRecord(2, h2, "td", T0, "k1", "sig2"))).isTrue();
        assertThat(store.insertAuditCheckpoint(new AuditCheckpointRecord(2, h2, "td", T0, "k2", "other"))).isFalse();
        assertThat(store.insertAuditCheckpoint(new AuditCheckpointRecord(4, h4, "td", T0, "k1", "sig4"))).isTrue();
        assertThat(store.latestAuditCheckpoint()).map(AuditCheckpointRecord::seq).contains(4L);
        assertThat(store.auditCheckpoints(2, 10)).extracting(AuditCheckpointRecord::signature).containsExactly("sig4");

        raw("DELETE FROM audit_event WHERE seq > 3", "UPDATE audit_head SET seq = 3 WHERE id = 1");
        List<CheckpointMatch> matches = store.auditCheckpointMatches(0, 10);
        assertThat(matches).extracting(CheckpointMatch::eventHash).containsExactly(h2, null);
        assertThat(store.auditHashAt(4)).isEmpty();
    }

    @Test
    void verifyingFromACheckpointFindsAChainThatNoLongerExtendsIt() throws Exception {
        Store store = newStore();
        appendEvents(store, 5);
        String h3 = store.auditHashAt(3).orElseThrow();
        assertThat(store.verifyAuditFrom(3, h3).intact()).isTrue();
        assertThat(store.verifyAuditFrom(5, store.auditHead().hash()).intact()).isTrue();
        assertThat(store.verifyAuditFrom(3, "0".repeat(64)).intact()).isFalse();
        assertThat(store.verifyAuditFrom(7, h3).reason()).contains("below event 7");
        assertThat(store.inTransaction("verify inside", () -> store.verifyAuditFrom(3, h3)).intact()).isTrue();
    }

    // ---- lifecycle and failures -----------------------------------------------------------------------------

    @Test
    void everythingSurvivesCloseAndReopen() {
        Store store = newStore();
        CaRecord ca = ca("aa", CaState.ACTIVE, T0);
        Workload workload = workload(AGENT_A, "triage mail");
        SvidRecord svid = svid("01", AGENT_A, "aa", T0, T0.plusSeconds(3600));
        store.insertCa(ca);
        store.insertWorkload(workload);
        store.insertJoinToken(token("used", AGENT_A, T0.plusSeconds(600)));
        store.insertJoinToken(token("fresh", AGENT_B, T0.plusSeconds(600)));
        store.redeemJoinToken("used", T0);
        store.insertSvid(svid);
        store.nextBundleSequence();
        store.nextBundleSequence();
        List<AuditRecord> audit = appendEvents(store, 3);
        store.close();

        Store reopened = track(reopenStore());
        assertThat(reopened.caRecords()).containsExactly(ca);
        assertThat(reopened.workloads()).containsExactly(workload);
        assertThat(reopened.svid("01")).contains(svid);
        assertThat(reopened.bundleSequence()).isEqualTo(2);
        assertThat(reopened.audit(0, 10)).containsExactlyElementsOf(audit);
        assertThat(reopened.verifyAudit().intact()).isTrue();
        assertThat(reopened.redeemJoinToken("used", T0).outcome()).isEqualTo(Outcome.ALREADY_USED);
        assertThat(reopened.redeemJoinToken("fresh", T0).outcome()).isEqualTo(Outcome.REDEEMED);
        assertThat(reopened.appendAudit(event("after.restart", T0, Map.of())).seq()).isEqualTo(4);
    }

    @Test
    void migrationsAreAppliedOnceWhenOpenedAgain() throws Exception {
        Store store = newStore();
        store.insertWorkload(workload(AGENT_A, "triage mail"));
        Store again = track(reopenStore());
        store.close();
        Store third = track(reopenStore());

        assertThat(third.workloads()).extracting(Workload::id).containsExactly(AGENT_A);
        assertThat(again.bundleSequence()).isZero();
        try (Connection c = rawConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version FROM flyway_schema_history "
                     + "WHERE version IS NOT NULL ORDER BY installed_rank")) {
            List<String> versions = new ArrayList<>();
            while (rs.next()) {
                versions.add(rs.getString(1));
            }
            assertThat(versions).containsExactlyElementsOf(shippedMigrationVersions());
        }
    }

    /** The versions of the migrations on the classpath (V1__..., V2__...), in order. */
    static List<String> shippedMigrationVersions() throws Exception {
        java.net.URL dir = StoreConformanceTest.class.getClassLoader().getResource("db/migration");
        assertThat(dir).as("db/migration on the classpath").isNotNull();
        try (var files = java.nio.file.Files.list(java.nio.file.Path.of(dir.toURI()))) {
            List<String> versions = files.map(f -> f.getFileName().toString())
                    .filter(n -> n.matches("V\\d+__.*\\.sql"))
                    .map(n -> n.substring(1, n.indexOf("__")))
                    .sorted(java.util.Comparator.comparingLong(Long::parseLong))
                    .toList();
            assertThat(versions).startsWith("1", "2");
            return versions;
        }
    }

    @Test
    void instantsAreKeptToTheMillisecond() {
        Store store = newStore();
        Instant precise = T0.plusNanos(1_234_567);
        store.insertSvid(svid("01", AGENT_A, "ca1", precise, precise.plusSeconds(60)));

        SvidRecord read = store.svid("01").orElseThrow();
        assertThat(read.issuedAt()).isEqualTo(T0.plusMillis(1));
        assertThat(read.notAfter()).isEqualTo(T0.plusSeconds(60).plusMillis(1));
        assertThat(store.appendAudit(event("x", precise, Map.of())).event().at()).isEqualTo(T0.plusMillis(1));
        assertThat(store.verifyAudit().intact()).isTrue();
    }

    @Test
    void aRefusedWriteLeavesNothingBehind() {
        Store store = newStore();
        SvidRecord incomplete = new SvidRecord("01", AGENT_A, "ca1", "join", "sha256:x", "EC", 256, T0,
                T0.plusSeconds(60), T0, null);

        assertThatThrownBy(() -> store.insertSvid(incomplete))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("svid.certificatePem: null (expected: non-null)");
        assertThat(store.svid("01")).isEmpty();
        assertThatThrownBy(() -> store.appendAudit(new AuditEvent(T0, "k", null, "a", "s", "ok", null, Map.of())))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("event.actor: null (expected: non-null)");
        assertThat(store.verifyAudit()).isEqualTo(new AuditVerification(true, 0, 0, "intact"));
        assertThat(store.appendAudit(event("k", T0, Map.of())).seq()).isEqualTo(1);
    }

    @Test
    void aClosedStoreRefusesWork() {
        Store store = newStore();
        store.close();

        assertThatThrownBy(store::workloads).isInstanceOf(StoreException.class).hasMessageContaining("closed");
        assertThatThrownBy(store::nextBundleSequence).isInstanceOf(StoreException.class)
                .hasMessageContaining("closed");
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    static List<AuditRecord> appendEvents(Store store, int count) {
        List<AuditRecord> records = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            records.add(store.appendAudit(event("svid.issued", T0.plusSeconds(i), Map.of("i", i))));
        }
        return records;
    }

    /** Changes the database behind the store's back, as an intruder with database access would. */
    void raw(String... statements) throws SQLException {
        try (Connection c = rawConnection(); Statement s = c.createStatement()) {
            for (String sql : statements) {
                s.executeUpdate(sql);
            }
        }
    }

    /** Runs the tasks on their own threads, released together, and returns their results in task order. */
    static <T> List<T> concurrently(int threads, IntFunction<Callable<T>> task) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch ready = new CountDownLatch(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<T>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Callable<T> work = task.apply(t);
                futures.add(pool.submit(() -> {
                    ready.countDown();
                    go.await();
                    return work.call();
                }));
            }
            assertThat(ready.await(10, TimeUnit.SECONDS)).as("all threads started").isTrue();
            go.countDown();
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(30, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    static String sha256Hex(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    static long count(Connection c, String sql) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    // ---- inventory: join tokens, issued tokens, asset owners -----------------------------------------------------

    static final String HASH_A = "aaaaaaaaaaaa" + "0".repeat(52);
    static final String HASH_B = "bbbbbbbbbbbb" + "0".repeat(52);
    static final String HASH_C = "cccccccccccc" + "0".repeat(52);

    @Test
    void joinTokensAreListedNewestFirstWithWhatBecameOfThem() {
        Store store = newStore();
        store.insertJoinToken(new JoinTokenRecord(HASH_A, AGENT_A, T0, T0.plusSeconds(600), "op"));
        store.insertJoinToken(new JoinTokenRecord(HASH_B, AGENT_A, T0.plusSeconds(1), T0.plusSeconds(601), "op"));
        store.insertJoinToken(new JoinTokenRecord(HASH_C, AGENT_B, T0.plusSeconds(2), T0.plusSeconds(10), "op"));
        store.redeemJoinToken(HASH_A, T0.plusSeconds(5));

        List<JoinTokenEntry> all = store.joinTokens(Optional.empty(), 10);
        assertThat(all).extracting(e -> e.token().tokenHash()).containsExactly(HASH_C, HASH_B, HASH_A);
        Instant later = T0.plusSeconds(20);
        assertThat(all).extracting(e -> e.state(later)).containsExactly(JoinTokenEntry.State.EXPIRED,
                JoinTokenEntry.State.OUTSTANDING, JoinTokenEntry.State.USED);
        assertThat(all.get(2).usedAt()).contains(T0.plusSeconds(5));
        assertThat(store.joinTokens(Optional.of(AGENT_A), 1)).extracting(e -> e.token().tokenHash())
                .containsExactly(HASH_B);
    }

    @Test
    void revokedJoinTokenCannotBeRedeemedAndSaysSo() {
        Store store = newStore();
        store.insertJoinToken(new JoinTokenRecord(HASH_A, AGENT_A, T0, T0.plusSeconds(600), "op"));

        assertThat(store.revokeJoinToken(HASH_A.substring(0, 12), T0.plusSeconds(1), "carol"))
                .extracting(JoinTokenRecord::tokenHash).containsExactly(HASH_A);
        // revoking again finds nothing outstanding
        assertThat(store.revokeJoinToken(HASH_A.substring(0, 12), T0.plusSeconds(2), "carol")).isEmpty();

        assertThat(store.redeemJoinToken(HASH_A, T0.plusSeconds(3)))
                .isEqualTo(new JoinTokenRedemption(Outcome.REVOKED, Optional.of(AGENT_A)));
        JoinTokenEntry e = store.joinTokens(Optional.empty(), 10).get(0);
        assertThat(e.revokedAt()).contains(T0.plusSeconds(1));
        assertThat(e.revokedBy()).contains("carol");
        assertThat(e.state(T0.plusSeconds(3))).isEqualTo(JoinTokenEntry.State.REVOKED);
    }

    @Test
    void revokingAWorkloadsJoinTokensLeavesUsedAndOtherWorkloadsTokensAlone() {
        Store store = newStore();
        store.insertJoinToken(new JoinTokenRecord(HASH_A, AGENT_A, T0, T0.plusSeconds(600), "op"));
        store.insertJoinToken(new JoinTokenRecord(HASH_B, AGENT_A, T0, T0.plusSeconds(600), "op"));
        store.insertJoinToken(new JoinTokenRecord(HASH_C, AGENT_B, T0, T0.plusSeconds(600), "op"));
        store.redeemJoinToken(HASH_A, T0.plusSeconds(1));

        assertThat(store.revokeJoinTokensOf(AGENT_A, T0.plusSeconds(2), "op"))
                .extracting(JoinTokenRecord::tokenHash).containsExactly(HASH_B);
        assertThat(store.redeemJoinToken(HASH_C, T0.plusSeconds(3)).outcome()).isEqualTo(Outcome.REDEEMED);
    }

    @Test
    void joinTokenIdMustBeLongEnoughHex() {
        Store store = newStore();
        assertThatThrownBy(() -> store.revokeJoinToken("abc", T0, "op")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("12 to 64 lowercase hex digits");
        assertThatThrownBy(() -> store.revokeJoinToken("aaaaaaaaaaa%", T0, "op"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void issuedTokensAreListedByTaskAndBySubjectNewestFirst() {
        Store store = newStore();
        store.insertIssuedToken(new IssuedTokenRecord("j1", "t1", "task", AGENT_A.toString(), "aud", "k1", T0,
                T0.plusSeconds(60)));
        store.insertIssuedToken(new IssuedTokenRecord("j2", "t1", "exchanged", AGENT_A.toString(), TOOL_C.toString(),
                "k1", T0.plusSeconds(1), T0.plusSeconds(61)));
        store.insertIssuedToken(new IssuedTokenRecord("j3", "t2", "task", AGENT_B.toString(), "aud", "k1",
                T0.plusSeconds(2), T0.plusSeconds(62)));

        assertThat(store.issuedTokens(Optional.empty(), Optional.empty(), List.of(), Optional.empty(), 10)).extracting(IssuedTokenRecord::jti)
                .containsExactly("j3", "j2", "j1");
        assertThat(store.issuedTokens(Optional.of("t1"), Optional.empty(), List.of(), Optional.empty(), 10)).extracting(IssuedTokenRecord::jti)
                .containsExactly("j2", "j1");
        assertThat(store.issuedTokens(Optional.empty(), Optional.of(AGENT_B.toString()), List.of(), Optional.empty(), 10))
                .extracting(IssuedTokenRecord::jti).containsExactly("j3");
        assertThat(store.issuedTokens(Optional.of("t1"), Optional.of(AGENT_A.toString()), List.of(), Optional.empty(), 1))
                .extracting(IssuedTokenRecord::jti).containsExactly("j2");
    }

    @Test
    void inventoryReadsFilterCertificatesAndTokensByKindAndLivenessWithoutThePem() {
        Store store = newStore();
        store.insertSvid(svid("a1", AGENT_A, "ca-1", T0, T0.plusSeconds(60)));
        store.insertSvid(new SvidRecord("b2", SpiffeId.parse("spiffe://example.org/operator/bob"), "ca-1", "operator",
                "sha256:b2", "EC", 256, T0, T0.plusSeconds(600), T0.plusSeconds(1), "-----BEGIN CERTIFICATE-----\nb2\n"));
        store.insertIssuedToken(new IssuedTokenRecord("j1", "t1", "task", AGENT_A.toString(), "aud", "k1", T0,
                T0.plusSeconds(60)));
        store.insertIssuedToken(new IssuedTokenRecord("j2", "t1", "exchanged", AGENT_A.toString(), "tool", "k1",
                T0.plusSeconds(1), T0.plusSeconds(10)));

        assertThat(store.svidSummaries(Optional.empty(), List.of("operator"), Optional.empty(), 10))
                .singleElement().satisfies(s -> {
                    assertThat(s.serialHex()).isEqualTo("b2");
                    assertThat(s.certificatePem()).isEmpty();
                });
        assertThat(store.svidSummaries(Optional.empty(), List.of(), Optional.of(T0.plusSeconds(60)), 10))
                .extracting(SvidRecord::serialHex).containsExactly("b2");
        assertThat(store.svidSummaries(Optional.of(AGENT_A), List.of("join", "renewal"), Optional.empty(), 10))
                .extracting(SvidRecord::serialHex).containsExactly("a1");
        assertThat(store.issuedTokens(Optional.empty(), Optional.empty(), List.of("exchanged"), Optional.empty(), 10))
                .extracting(IssuedTokenRecord::jti).containsExactly("j2");
        assertThat(store.issuedTokens(Optional.of("t1"), Optional.empty(), List.of(), Optional.of(T0.plusSeconds(30)), 10))
                .extracting(IssuedTokenRecord::jti).containsExactly("j1");
    }

    @Test
    void kekIdentityIsMadeOnceAndKeptAcrossReopens() {
        Store store = newStore();
        Store.KekIdentity first = store.kekIdentity("kek-1111", T0);
        assertThat(first).isEqualTo(new Store.KekIdentity("kek-1111", T0));
        assertThat(track(reopenStore()).kekIdentity("kek-2222", T0.plusSeconds(5))).isEqualTo(first);
    }

    @Test
    void revokingAJoinTokenByAnAmbiguousIdRevokesNothing() {
        Store store = newStore();
        String twinA = "dddddddddddd" + "1".repeat(52);
        String twinB = "dddddddddddd" + "2".repeat(52);
        store.insertJoinToken(new JoinTokenRecord(twinA, AGENT_A, T0, T0.plusSeconds(600), "op"));
        store.insertJoinToken(new JoinTokenRecord(twinB, AGENT_A, T0, T0.plusSeconds(600), "op"));

        assertThat(store.revokeJoinToken("dddddddddddd", T0.plusSeconds(1), "op")).hasSize(2);
        assertThat(store.joinTokens(Optional.empty(), 10)).allSatisfy(e -> assertThat(e.revokedAt()).isEmpty());
        assertThat(store.revokeJoinToken(twinA.substring(0, 13), T0.plusSeconds(1), "op"))
                .extracting(JoinTokenRecord::tokenHash).containsExactly(twinA);
        // an expired token is not outstanding: nothing to revoke
        assertThat(store.revokeJoinToken(twinB.substring(0, 13), T0.plusSeconds(601), "op")).isEmpty();
    }

    @Test
    void assetOwnerIsSetReplacedAndReportsWhatItReplaced() {
        Store store = newStore();
        AssetOwner first = new AssetOwner("ca", "*", "alice@example.org", "team-pki", "workload CA", "team-pki",
                "pki-oncall", T0, "op-a");
        AssetOwner second = new AssetOwner("ca", "*", "bob@example.org", "team-pki", "workload CA", "team-pki",
                "pki-oncall", T0.plusSeconds(1), "op-b");

        assertThat(store.putAssetOwner(first)).isEmpty();
        assertThat(store.putAssetOwner(second)).contains(first);
        assertThat(store.assetOwner("ca", "*")).contains(second);
        assertThat(store.assetOwner("ca", "other")).isEmpty();
        assertThat(store.assetOwners()).containsExactly(second);
    }

    static ExceptionRecord exception(String id, SpiffeId workload, Instant createdAt) {
        return new ExceptionRecord(id, "no-task-token", workload.toString(), "legacy.internal:8443", "/v1/", null,
                null, null, "legacy batch", "alice@example.org", "bob", createdAt, null, null,
                createdAt.plus(Duration.ofDays(7)), createdAt.plus(Duration.ofDays(3)), null, null, null, null, null,
                0, null);
    }

    @Test
    void exceptionIsApprovedReviewedRevokedOnceAndCountsItsUses() {
        Store store = newStore();
        ExceptionRecord a = exception("exc-000000000000000a", AGENT_A, T0);
        ExceptionRecord b = exception("exc-000000000000000b", AGENT_B, T0.plusSeconds(1));
        store.insertException(a);
        store.insertException(b);
        assertThatThrownBy(() -> store.insertException(a)).isInstanceOf(StoreConflictException.class);
        assertThat(store.exception(a.id())).contains(a);
        assertThat(store.exceptions(Optional.empty(), 10)).extracting(ExceptionRecord::id)
                .containsExactly(b.id(), a.id());
        assertThat(store.exceptions(Optional.of(AGENT_A.toString()), 10)).containsExactly(a);

        Instant at = T0.plusSeconds(60);
        assertThat(store.approveException(a.id(), "carol", at)).isTrue();
        assertThat(store.approveException(a.id(), "dave", at)).as("approved once").isFalse();
        assertThat(store.approveException(b.id(), "carol", b.expiresAt())).as("not once expired").isFalse();
        assertThat(store.exception(a.id()).orElseThrow().state(at)).isEqualTo(ExceptionRecord.State.ACTIVE);

        assertThat(store.addExceptionUses(a.id(), 3, at.plusSeconds(10))).isTrue();
        assertThat(store.addExceptionUses(a.id(), 2, at.plusSeconds(5))).isTrue();
        assertThat(store.addExceptionUses("exc-ffffffffffffffff", 1, at)).isFalse();
        ExceptionRecord used = store.exception(a.id()).orElseThrow();
        assertThat(used.uses()).isEqualTo(5);
        assertThat(used.lastUsedAt()).as("the latest use, whatever the order").isEqualTo(at.plusSeconds(10));

        Instant next = at.plus(Duration.ofDays(3));
        assertThat(store.reviewException(a.id(), "carol", at, next)).isTrue();
        assertThat(store.exception(a.id()).orElseThrow().reviewBy()).isEqualTo(next);
        assertThat(store.revokeException(a.id(), "bob", at.plusSeconds(1), "done")).isTrue();
        assertThat(store.revokeException(a.id(), "bob", at.plusSeconds(2), "again")).isFalse();
        assertThat(store.reviewException(a.id(), "carol", at, next)).as("not once revoked").isFalse();
        ExceptionRecord revoked = store.exception(a.id()).orElseThrow();
        assertThat(revoked.state(at.plusSeconds(2))).isEqualTo(ExceptionRecord.State.REVOKED);
        assertThat(revoked.revokeReason()).isEqualTo("done");
        assertThat(revoked.approvedBy()).isEqualTo("carol");
        assertThat(revoked.state(revoked.expiresAt())).as("revoked wins over expired")
                .isEqualTo(ExceptionRecord.State.REVOKED);
        assertThat(store.exception(b.id()).orElseThrow().state(b.expiresAt())).isEqualTo(ExceptionRecord.State.EXPIRED);
    }

    // ---- tasks, signing keys, issued tokens, revocations ------------------------------------------------------

    static TaskRecord task(String id, SpiffeId agent, Instant createdAt, Duration ttl) {
        return new TaskRecord(id, agent, "[{\"tool\":\"crm.read\"}]", "triage the inbox", TaskState.ACTIVE,
                "spiffe://example.org/operator/alice", createdAt, createdAt.plus(ttl), null);
    }

    @Test
    void taskRoundTripsAndListsNewestFirstByAgentAndState() {
        Store store = newStore();
        TaskRecord t1 = task("t1", AGENT_A, T0, Duration.ofMinutes(5));
        TaskRecord t2 = task("t2", AGENT_B, T0.plusSeconds(1), Duration.ofMinutes(5));
        TaskRecord t3 = task("t3", AGENT_A, T0.plusSeconds(2), Duration.ofMinutes(5));
        store.insertTask(t1);
        store.insertTask(t2);
        store.insertTask(t3);
        assertThat(store.task("t1")).contains(t1);
        assertThat(store.task("nope")).isEmpty();
        assertThat(store.tasks(Optional.empty(), Optional.empty(), 10)).containsExactly(t3, t2, t1);
        assertThat(store.tasks(Optional.of(AGENT_A), Optional.empty(), 10)).containsExactly(t3, t1);
        assertThat(store.tasks(Optional.empty(), Optional.empty(), 2)).containsExactly(t3, t2);
        assertThat(store.endTask("t3", TaskState.COMPLETED, T0.plusSeconds(3))).isTrue();
        assertThat(store.tasks(Optional.of(AGENT_A), Optional.of(TaskState.ACTIVE), 10)).containsExactly(t1);
        assertThat(store.task("t3").orElseThrow().endedAt()).isEqualTo(T0.plusSeconds(3));
        assertThatThrownBy(() -> store.insertTask(t1)).isInstanceOf(StoreConflictException.class);
    }

    @Test
    void aTaskEndsOnceAndOnlyWhileActive() {
        Store store = newStore();
        store.insertTask(task("t1", AGENT_A, T0, Duration.ofMinutes(5)));
        assertThat(store.endTask("t1", TaskState.EXPIRED, T0.plusSeconds(300))).isTrue();
        assertThat(store.endTask("t1", TaskState.COMPLETED, T0.plusSeconds(301))).isFalse();
        assertThat(store.endTask("missing", TaskState.COMPLETED, T0)).isFalse();
        assertThat(store.task("t1").orElseThrow().state()).isEqualTo(TaskState.EXPIRED);
        assertThatThrownBy(() -> store.endTask("t1", TaskState.ACTIVE, T0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void activeTasksExpiredByListsOnlyActiveTasksAtOrPastTheirExpiry() {
        Store store = newStore();
        store.insertTask(task("late", AGENT_A, T0, Duration.ofMinutes(10)));
        store.insertTask(task("due", AGENT_A, T0, Duration.ofMinutes(5)));
        store.insertTask(task("done", AGENT_A, T0, Duration.ofMinutes(1)));
        store.endTask("done", TaskState.COMPLETED, T0);
        assertThat(store.activeTasksExpiredBy(T0.plus(Duration.ofMinutes(5)), 10)).extracting(TaskRecord::id)
                .containsExactly("due");
        assertThat(store.activeTasksExpiredBy(T0.plus(Duration.ofMinutes(10)), 10)).extracting(TaskRecord::id)
                .containsExactly("due", "late");
    }

    @Test
    void liveTasksCountsAnAgentsTasksNotYetPastTheirExpiryEndedOrNot() {
        Store store = newStore();
        store.insertWorkload(workload(AGENT_A, "triage mail"));
        assertThat(store.liveTasks(AGENT_A, T0)).isEqualTo(new LiveTasks(0, Optional.empty()));
        store.insertTask(task("short", AGENT_A, T0, Duration.ofMinutes(1)));
        store.insertTask(task("long", AGENT_A, T0, Duration.ofMinutes(10)));
        store.insertTask(task("done", AGENT_A, T0, Duration.ofMinutes(5)));
        store.endTask("done", TaskState.COMPLETED, T0.plusSeconds(1));
        store.insertTask(task("other", AGENT_B, T0, Duration.ofMinutes(1)));

        // ended or not, a task counts until its expiry (its revocation is in force until then)
        assertThat(store.liveTasks(AGENT_A, T0)).isEqualTo(new LiveTasks(3, Optional.of(T0.plusSeconds(60))));
        // a task at its expiry no longer counts
        assertThat(store.liveTasks(AGENT_A, T0.plusSeconds(60)))
                .isEqualTo(new LiveTasks(2, Optional.of(T0.plusSeconds(300))));
        assertThat(store.liveTasks(AGENT_A, T0.plusSeconds(600))).isEqualTo(new LiveTasks(0, Optional.empty()));
        assertThat(store.liveTasks(AGENT_B, T0)).isEqualTo(new LiveTasks(1, Optional.of(T0.plusSeconds(60))));
        // inside a transaction, after taking the registration's lock, as task creation does
        assertThat(store.inTransaction("count", () -> {
            assertThat(store.workloadForUpdate(AGENT_A)).isPresent();
            assertThat(store.workloadForUpdate(AGENT_B)).isEmpty();
            return store.liveTasks(AGENT_A, T0);
        }).count()).isEqualTo(3);
    }

    @Test
    void signingKeysRoundTripOldestFirstAndChangeStateByCompareAndSet() {
        Store store = newStore();
        SigningKeyRecord k1 = new SigningKeyRecord("kid-1", SigningKeyState.ACTIVE, "{\"kty\":\"EC\"}",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----\n", T0, T0);
        SigningKeyRecord k2 = new SigningKeyRecord("kid-2", SigningKeyState.ACTIVE, "{}", "pem", T0.plusSeconds(1),
                T0.plusSeconds(1));
        store.insertSigningKey(k1);
        store.insertSigningKey(k2);
        assertThat(store.signingKeys()).containsExactly(k1, k2);
        assertThat(store.updateSigningKeyState("kid-1", SigningKeyState.ACTIVE, SigningKeyState.RETIRED,
                T0.plusSeconds(5))).isTrue();
        assertThat(store.updateSigningKeyState("kid-1", SigningKeyState.ACTIVE, SigningKeyState.REVOKED,
                T0.plusSeconds(6))).isFalse();
        assertThat(store.signingKeys().get(0).state()).isEqualTo(SigningKeyState.RETIRED);
        assertThat(store.signingKeys().get(0).stateChangedAt()).isEqualTo(T0.plusSeconds(5));
        assertThatThrownBy(() -> store.insertSigningKey(k1)).isInstanceOf(StoreConflictException.class);
    }

    @Test
    void issuedTokensRoundTripAndReportTheLatestExpiryByTaskKeyAndSubject() {
        Store store = newStore();
        IssuedTokenRecord a = new IssuedTokenRecord("j1", "t1", "task", AGENT_A.toString(), AGENT_A.toString(), "k1",
                T0, T0.plusSeconds(600));
        IssuedTokenRecord b = new IssuedTokenRecord("j2", "t1", "exchanged", AGENT_A.toString(), TOOL_C.toString(),
                "k2", T0, T0.plusSeconds(60));
        store.insertIssuedToken(a);
        store.insertIssuedToken(b);
        assertThat(store.issuedToken("j2")).contains(b);
        assertThat(store.latestTokenExpiryOfTask("t1")).contains(T0.plusSeconds(600));
        assertThat(store.latestTokenExpiryOfKey("k2")).contains(T0.plusSeconds(60));
        assertThat(store.latestTokenExpiryOfSubject(AGENT_A.toString())).contains(T0.plusSeconds(600));
        assertThat(store.latestTokenExpiryOfTask("none")).isEmpty();
        assertThatThrownBy(() -> store.insertIssuedToken(a)).isInstanceOf(StoreConflictException.class);
    }

    @Test
    void revokingTheSameValueTwiceKeepsOneRevocation() {
        Store store = newStore();
        RevocationRecord first = new RevocationRecord("task", "t1", "compromised", "alice", T0, T0.plusSeconds(300));
        RevocationRecord again = new RevocationRecord("task", "t1", "again", "bob", T0.plusSeconds(1),
                T0.plusSeconds(900));
        assertThat(store.insertRevocation(first)).isTrue();
        assertThat(store.insertRevocation(again)).isFalse();
        assertThat(store.revocation("task", "t1")).contains(first);
        assertThat(store.revocations(T0, 10)).containsExactly(first);
    }

    @Test
    void revocationsSurviveAReopenAndExpireByTheirExpiry() {
        Store store = newStore();
        RevocationRecord r1 = new RevocationRecord("token", "j1", "leaked", "alice", T0, T0.plusSeconds(60));
        RevocationRecord r2 = new RevocationRecord("spiffe_id", AGENT_A.toString(), "stolen", "alice",
                T0.plusSeconds(1), T0.plusSeconds(600));
        store.insertRevocation(r1);
        store.insertRevocation(r2);
        Store again = reopenStore();
        assertThat(again.revocations(T0.plusSeconds(59), 10)).containsExactly(r1, r2);
        assertThat(again.revocations(T0.plusSeconds(60), 10)).containsExactly(r2);
        assertThat(again.deleteRevocationsExpiredBy(T0.plusSeconds(60))).isEqualTo(1);
        assertThat(again.revocation("token", "j1")).isEmpty();
    }

    @Test
    void revocationsOfOneTypeAreNotCrowdedOutByOthersAndTheLatestCertificateExpiryIsTheLongestLived() {
        Store store = newStore();
        for (int i = 0; i < 5; i++) {
            store.insertRevocation(new RevocationRecord("task", "t" + i, "done", "alice", T0, T0.plusSeconds(600)));
        }
        RevocationRecord id = new RevocationRecord("spiffe_id", AGENT_A.toString(), "stolen", "alice",
                T0.plusSeconds(1), T0.plusSeconds(600));
        store.insertRevocation(id);
        assertThat(store.revocations(T0, 3)).extracting(RevocationRecord::type).containsOnly("task");
        assertThat(store.revocations(T0, "spiffe_id", 3)).containsExactly(id);
        assertThat(store.revocations(T0.plusSeconds(600), "spiffe_id", 3)).isEmpty();
        assertThat(store.latestSvidExpiry(AGENT_A)).isEmpty();
    }

    @Test
    void revokingAgainAfterExpiryStartsAFreshRevocation() {
        Store store = newStore();
        store.insertRevocation(new RevocationRecord("token", "j1", "leaked", "alice", T0, T0.plusSeconds(60)));
        RevocationRecord fresh = new RevocationRecord("token", "j1", "leaked again", "bob", T0.plusSeconds(61),
                T0.plusSeconds(120));
        assertThat(store.insertRevocation(fresh)).isTrue();
        assertThat(store.revocation("token", "j1")).contains(fresh);
    }
    // ---- policy versions ------------------------------------------------------------------------------------

    static final String ALICE = "spiffe://example.org/operator/alice";

    @Test
    void noPolicyIsCurrentUntilOneIsActivated() {
        Store store = newStore();
        assertThat(store.currentPolicy()).isEmpty();
        assertThat(store.policyVersions(10)).isEmpty();
        assertThat(store.policyVersion("sha256:00")).isEmpty();
    }

    @Test
    void activatingANewDocumentStoresItAsTheNextCurrentVersion() {
        Store store = newStore();
        PolicyActivation first = store.activatePolicy("v1", "sha256:aa", "version: v1\n", ALICE, T0);
        PolicyVersionRecord v1 = new PolicyVersionRecord(1, "v1", "sha256:aa", "version: v1\n", ALICE, T0, T0, true);
        assertThat(first).isEqualTo(new PolicyActivation(v1, Optional.empty(), true));
        assertThat(first.changed()).isTrue();

        PolicyActivation second = store.activatePolicy("v2", "sha256:bb", "version: v2\n", "bob", T0.plusSeconds(5));
        assertThat(second.stored()).isTrue();
        assertThat(second.previous()).contains(v1);
        assertThat(second.current().id()).isEqualTo(2);
        assertThat(store.currentPolicy()).contains(second.current());
        assertThat(store.policyVersions(10)).containsExactly(second.current(),
                new PolicyVersionRecord(1, "v1", "sha256:aa", "version: v1\n", ALICE, T0, T0, false));
        assertThat(store.policyVersions(1)).containsExactly(second.current());
        assertThat(store.policyVersion("sha256:aa")).map(PolicyVersionRecord::current).contains(false);
        assertThatThrownBy(() -> store.policyVersions(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void activatingTheCurrentDocumentAgainChangesNothing() {
        Store store = newStore();
        PolicyVersionRecord v1 = store.activatePolicy("v1", "sha256:aa", "y1", ALICE, T0).current();
        PolicyActivation again = store.activatePolicy("v1", "sha256:aa", "y1", "bob", T0.plusSeconds(9));
        assertThat(again).isEqualTo(new PolicyActivation(v1, Optional.of(v1), false));
        assertThat(again.changed()).isFalse();
        assertThat(store.policyVersions(10)).containsExactly(v1);
    }

    @Test
    void activatingAStoredOlderDocumentMakesItCurrentAgainWithoutANewVersion() {
        Store store = newStore();
        store.activatePolicy("v1", "sha256:aa", "y1", ALICE, T0);
        PolicyVersionRecord v2 = store.activatePolicy("v2", "sha256:bb", "y2", ALICE, T0.plusSeconds(1)).current();
        PolicyActivation back = store.activatePolicy("v1", "sha256:aa", "y1", "bob", T0.plusSeconds(7));
        assertThat(back.stored()).isFalse();
        assertThat(back.changed()).isTrue();
        assertThat(back.previous()).contains(v2);
        assertThat(back.current()).isEqualTo(
                new PolicyVersionRecord(1, "v1", "sha256:aa", "y1", ALICE, T0, T0.plusSeconds(7), true));
        assertThat(store.policyVersions(10)).extracting(PolicyVersionRecord::id).containsExactly(2L, 1L);
        assertThat(reopenStore().currentPolicy()).contains(back.current());
    }

    @Test
    void policyActivationRefusesMissingAndEmptyFields() {
        Store store = newStore();
        assertThatThrownBy(() -> store.activatePolicy("v1", "", "y", ALICE, T0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("digest: empty (expected: non-empty)");
        assertThatThrownBy(() -> store.activatePolicy("v1", "sha256:aa", null, ALICE, T0))
                .isInstanceOf(NullPointerException.class).hasMessage("yaml: null (expected: non-null)");
        assertThat(store.currentPolicy()).isEmpty();
    }

    @Test
    void concurrentActivationsAcrossReplicasStoreEachDocumentOnceAndEndWithOneCurrent() throws Exception {
        newStore();
        int threads = 6;
        List<Store> replicas = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            replicas.add(reopenStore());
        }
        // Two documents, each uploaded by three replicas at once.
        List<PolicyActivation> results = concurrently(threads, t -> () -> replicas.get(t).activatePolicy(
                "v" + t % 2, "sha256:" + t % 2, "y" + t % 2, ALICE, T0));
        assertThat(results.stream().filter(PolicyActivation::stored)).hasSize(2);
        List<PolicyVersionRecord> versions = replicas.get(0).policyVersions(10);
        assertThat(versions).extracting(PolicyVersionRecord::id).containsExactly(2L, 1L);
        assertThat(versions.stream().filter(PolicyVersionRecord::current)).hasSize(1);
    }
}
