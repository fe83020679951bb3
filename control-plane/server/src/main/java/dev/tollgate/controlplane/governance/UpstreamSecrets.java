package dev.tollgate.controlplane.governance;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.UpstreamSecretRequest;
import dev.tollgate.api.wire.UpstreamSecretValue;
import dev.tollgate.api.wire.UpstreamSecretView;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.ca.CaKeyException;
import dev.tollgate.controlplane.ca.KeyEncryption;
import dev.tollgate.controlplane.identity.WorkloadRegistry;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.SecretFetchOutcome;
import dev.tollgate.controlplane.store.ExceptionRecord;
import dev.tollgate.controlplane.store.ExceptionRecord.State;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.UpstreamSecretRecord;
import dev.tollgate.controlplane.watch.RevisionPublisher;
import dev.tollgate.controlplane.watch.SnapshotSource;

/**
 * Upstream secrets for credential injection (issue 12 §4): a static credential of a legacy upstream, held by the
 * control plane sealed under the KEK, bound to one workload, one upstream and one {@code inject-credential}
 * exception, and given only to that workload's sidecar over mTLS while the exception is active. The value is
 * write-only: no list, view, log line, audit record or watch revision carries it (nor a hash of it).
 *
 * <p>Every write is one transaction with its audit event and its {@link WatchEvent#UPSTREAM_SECRET} revision. The
 * value is sealed before the transaction (the key derivation is slow on purpose), for the version the transaction
 * then checks is still next.
 */
public final class UpstreamSecrets implements SnapshotSource {
    /** Names: lowercase letters, digits, {@code .-_}, 1–64, starting with a letter or digit. */
    public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");
    /** Longest value, in bytes (visible ASCII only, so bytes = characters). */
    public static final int MAX_VALUE_BYTES = 8192;
    public static final int MAX_EXCEPTION_ID_LENGTH = 128;
    public static final Duration MIN_ROTATION_PERIOD = Duration.ofHours(1);
    public static final Duration MAX_ROTATION_PERIOD = Duration.ofDays(3650);
    public static final int MAX_LIST = 1000;
    /** Most live secrets a resync snapshot lists (each is sealed with a slow key derivation: far above real use). */
    public static final int MAX_SNAPSHOT = 100_000;

    private final Store store;
    private final KeyEncryption sealing;
    private final String kekId;
    private final RevisionPublisher publisher;
    private final Auditor auditor;
    private final ControlPlaneMetrics metrics;
    private final Clock clock;
    private final AtomicLong held = new AtomicLong();

    /**
     * @param kekId the inventory id of the KEK {@code sealing} holds, recorded as each secret's {@code sealedBy}
     */
    public UpstreamSecrets(Store store, KeyEncryption sealing, String kekId, RevisionPublisher publisher,
                           Auditor auditor, ControlPlaneMetrics metrics, Clock clock) {
        this.store = store;
        this.sealing = sealing;
        this.kekId = kekId;
        this.publisher = publisher;
        this.auditor = auditor;
        this.metrics = metrics;
        this.clock = clock;
        refreshCount();
        metrics.upstreamSecretsGauge(held::get);
    }

    // ---- writes (operators) -----------------------------------------------------------------------------------

    /**
     * Stores a new secret. Refused, with nothing changed, when a field is missing or malformed (400), the workload
     * is not registered (400), the exception does not exist (400), does not waive {@code inject-credential} for
     * exactly this workload and upstream, is revoked or expired (409), or the name is taken (409): by a live secret,
     * or by a deleted one bound elsewhere. A deleted secret's name may be put again for the same binding; its version
     * then continues, so sidecars see the change.
     */
    public UpstreamSecretView put(UpstreamSecretRequest req, String actor) {
        if (req == null) {
            throw ApiProblem.badRequest("missing_body", "request body: missing (expected: an upstream secret)");
        }
        String name = name(req.name());
        SpiffeId workload = WorkloadRegistry.parseId("workload", req.workload());
        if (workload.kind() == SpiffeId.Kind.OPERATOR) {
            throw ApiProblem.badRequest("invalid_workload", "workload: " + workload
                    + " is an operator (expected: the agent or tool whose sidecar injects the secret)");
        }
        String upstream = upstream(req.upstream());
        String exceptionId = exceptionId(req.exceptionId());
        byte[] value = value(req.value());
        String human = owner("humanOwner", req.humanOwner());
        String service = owner("serviceOwner", req.serviceOwner());
        Duration period = rotationPeriod(req.rotationPeriodSeconds());
        if (store.workload(workload).isEmpty()) {
            throw ApiProblem.badRequest("workload_not_registered", "workload: " + workload
                    + " is not registered (register it first: ctl workload register)");
        }
        Optional<UpstreamSecretRecord> seen = store.upstreamSecret(name);
        int version = seen.map(s -> s.version() + 1).orElse(1);
        String sealed = sealing.seal(value, UpstreamSecretRecord.associatedData(name, version));
        Instant now = clock.instant();
        UpstreamSecretRecord stored = store.inTransaction("put upstream secret " + name, () -> {
            checkBinding(exceptionId, workload, upstream, now);
            Optional<UpstreamSecretRecord> existing = store.upstreamSecret(name);
            if (existing.isPresent()) {
                UpstreamSecretRecord e = existing.get();
                if (!e.deleted()) {
                    throw ApiProblem.conflict("upstream_secret_exists", "upstream secret " + name + " exists "
                            + "(change its value with ctl upstream-secret rotate, or delete it first)");
                }
                if (!e.workload().equals(workload) || !e.upstream().equals(upstream)) {
                    throw ApiProblem.conflict("upstream_secret_name_retired", "upstream secret " + name
                            + " was deleted while bound to " + e.workload() + " and " + e.upstream()
                            + ": its name is not reused for another binding (choose another name)");
                }
            }
            if (existing.map(e -> e.version() + 1).orElse(1) != version) {
                throw concurrentChange(name);
            }
            UpstreamSecretRecord r = new UpstreamSecretRecord(name, workload, upstream, exceptionId, sealed, kekId,
                    version, human, service, period, now, actor, now, actor, Optional.empty(), 0, Optional.empty(),
                    Optional.empty());
            if (existing.isPresent()) {
                store.updateUpstreamSecret(r);
            } else {
                store.insertUpstreamSecret(r);
            }
            Map<String, Object> d = details(r);
            d.put("humanOwner", human);
            d.put("serviceOwner", service);
            d.put("rotationPeriodSeconds", period.toSeconds());
            auditor.record(Auditor.UPSTREAM_SECRET_CHANGED, actor, "upstream_secret.put", name, "ok", d);
            publish(r);
            return r;
        });
        return view(stored, now);
    }

    /** Gives a secret a new value (version + 1); 404 when there is no such secret, 409 on a concurrent change. */
    public UpstreamSecretView rotate(String rawName, UpstreamSecretRequest req, String actor) {
        String name = name(rawName);
        if (req == null) {
            throw ApiProblem.badRequest("missing_body", "request body: missing (expected: {\"value\": ...})");
        }
        if (req.name() != null || req.workload() != null || req.upstream() != null || req.exceptionId() != null
                || req.humanOwner() != null || req.serviceOwner() != null || req.rotationPeriodSeconds() != null) {
            throw ApiProblem.badRequest("unknown_field", "rotate reads only value (expected: {\"value\": ...}; "
                    + "to change the binding, delete the secret and put a new one)");
        }
        byte[] value = value(req.value());
        UpstreamSecretRecord seen = live(name);
        int version = seen.version() + 1;
        String sealed = sealing.seal(value, UpstreamSecretRecord.associatedData(name, version));
        Instant now = clock.instant();
        UpstreamSecretRecord stored = store.inTransaction("rotate upstream secret " + name, () -> {
            UpstreamSecretRecord e = live(name);
            if (e.version() + 1 != version) {
                throw concurrentChange(name);
            }
            UpstreamSecretRecord r = new UpstreamSecretRecord(name, e.workload(), e.upstream(), e.exceptionId(),
                    sealed, kekId, version, e.humanOwner(), e.serviceOwner(), e.rotationPeriod(), e.createdAt(),
                    e.createdBy(), now, actor, e.lastUsedAt(), e.uses(), Optional.empty(), Optional.empty());
            store.updateUpstreamSecret(r);
            auditor.record(Auditor.UPSTREAM_SECRET_CHANGED, actor, "upstream_secret.rotate", name, "ok", details(r));
            publish(r);
            return r;
        });
        return view(stored, now);
    }

    /** Deletes a secret (its row stays, so its name stays bound); sidecars drop it from memory at the revision. */
    public UpstreamSecretView delete(String rawName, String actor) {
        String name = name(rawName);
        Instant now = clock.instant();
        UpstreamSecretRecord stored = store.inTransaction("delete upstream secret " + name, () -> {
            UpstreamSecretRecord e = live(name);
            UpstreamSecretRecord r = new UpstreamSecretRecord(name, e.workload(), e.upstream(), e.exceptionId(),
                    e.sealedValue(), e.sealedBy(), e.version(), e.humanOwner(), e.serviceOwner(), e.rotationPeriod(),
                    e.createdAt(), e.createdBy(), e.rotatedAt(), e.rotatedBy(), e.lastUsedAt(), e.uses(),
                    Optional.of(now), Optional.of(actor));
            store.updateUpstreamSecret(r);
            auditor.record(Auditor.UPSTREAM_SECRET_CHANGED, actor, "upstream_secret.delete", name, "ok", details(r));
            publish(r);
            return r;
        });
        return view(stored, now);
    }

    // ---- reads ------------------------------------------------------------------------------------------------

    /** Secrets ordered by name, never a value. */
    public List<UpstreamSecretView> list(Optional<SpiffeId> workload, boolean includeDeleted, int limit) {
        Instant now = clock.instant();
        return store.upstreamSecrets(workload, includeDeleted, limit).stream().map(s -> view(s, now)).toList();
    }

    /** One secret, deleted or not; never its value. */
    public UpstreamSecretView show(String rawName) {
        String name = name(rawName);
        return view(store.upstreamSecret(name).orElseThrow(() -> notFound(name)), clock.instant());
    }

    /**
     * {@code GET /v1/upstream-secrets/{name}/value}: the value, for the workload it is bound to, while its exception
     * is active (approved, not revoked, before its expiry by this control plane's clock); otherwise 404 or 403 with
     * the reason. Every answer is audited as {@code upstream_secret.fetched} (never with the value) and counted.
     */
    public UpstreamSecretValue fetch(SpiffeId caller, String rawName) {
        String name;
        try {
            name = name(rawName);
        } catch (ApiProblem e) {
            refuse(caller, String.valueOf(rawName).length() > 64 ? "(invalid)" : String.valueOf(rawName),
                    SecretFetchOutcome.NOT_FOUND, Map.of());
            throw e;
        }
        Optional<UpstreamSecretRecord> found = store.upstreamSecret(name).filter(s -> !s.deleted());
        if (found.isEmpty()) {
            refuse(caller, name, SecretFetchOutcome.NOT_FOUND, Map.of());
            throw notFound(name);
        }
        UpstreamSecretRecord s = found.get();
        if (!s.workload().equals(caller)) {
            refuse(caller, name, SecretFetchOutcome.NOT_BOUND_TO_CALLER, Map.of());
            throw ApiProblem.forbidden("not_bound_to_caller", "upstream secret " + name + " is not bound to " + caller
                    + " (only the workload it was stored for may fetch it)");
        }
        if (store.workload(caller).isEmpty()) {
            // a deleted workload's SVID stays valid until it expires; it fetches nothing meanwhile
            refuse(caller, name, SecretFetchOutcome.NOT_BOUND_TO_CALLER, Map.of("workloadRegistered", false));
            throw ApiProblem.forbidden("workload_not_registered", caller + " is not registered (deleted): upstream "
                    + "secret " + name + " is served only to a registered workload");
        }
        Instant now = clock.instant();
        Optional<State> st = store.exception(s.exceptionId()).map(e -> e.state(now));
        if (st.orElse(null) != State.ACTIVE) {
            String state = st.map(State::wireName).orElse("unknown");
            refuse(caller, name, SecretFetchOutcome.EXCEPTION_NOT_ACTIVE,
                    Map.of("exceptionId", s.exceptionId(), "exceptionState", state));
            throw ApiProblem.forbidden("exception_not_active", "upstream secret " + name + " is bound to exception "
                    + s.exceptionId() + ", which is " + state + " (expected: active; an admin approves a requested "
                    + "exception, an expired or revoked one needs a new exception and a new secret)");
        }
        byte[] value;
        try {
            value = sealing.open(s.sealedValue(), UpstreamSecretRecord.associatedData(name, s.version()),
                    "upstream secret " + name + " v" + s.version());
        } catch (CaKeyException e) {
            refuse(caller, name, SecretFetchOutcome.UNSEALABLE, Map.of("version", s.version()));
            throw new ApiProblem(500, "upstream_secret_unsealable", "Internal error", e.getMessage());
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("version", s.version());
        d.put("upstream", s.upstream());
        d.put("exceptionId", s.exceptionId());
        // recorded before the value leaves: a fetch that cannot be audited is not served
        auditor.record(Auditor.UPSTREAM_SECRET_FETCHED, caller.toString(), "upstream_secret.fetch", name, "ok", d);
        metrics.secretFetch(SecretFetchOutcome.OK);
        return new UpstreamSecretValue(name, s.upstream(), s.exceptionId(), s.version(),
                new String(value, StandardCharsets.US_ASCII));
    }

    private void refuse(SpiffeId caller, String name, SecretFetchOutcome outcome, Map<String, Object> extra) {
        metrics.secretFetch(outcome);
        Map<String, Object> d = new LinkedHashMap<>(extra);
        d.put("reason", outcome.name().toLowerCase(java.util.Locale.ROOT));
        auditor.recordQuietly(Auditor.UPSTREAM_SECRET_FETCHED, caller.toString(), "upstream_secret.fetch", name,
                "refused", d);
    }

    /** Starts counting the injections one decision batch of {@code workload} reports. */
    public Uses uses(SpiffeId workload) {
        return new Uses(workload);
    }

    /**
     * The injections of one decision batch: {@link #count} once per event (its {@code injected} field, the secret's
     * name), {@link #record} once the batch is stored. Only secrets bound to the reporting workload are counted (a
     * name it does not hold is ignored), so a sidecar cannot make another workload's secret look used.
     */
    public final class Uses {
        private final SpiffeId workload;
        private final Map<String, Long> byName = new LinkedHashMap<>();

        private Uses(SpiffeId workload) {
            this.workload = workload;
        }

        /** One event's {@code injected} field (absent for events without an injection). */
        public void count(Object injected) {
            if (injected instanceof String name && NAME.matcher(name).matches() && byName.size() < 64) {
                byName.merge(name, 1L, Long::sum);
            } else if (injected instanceof String name && byName.containsKey(name)) {
                byName.merge(name, 1L, Long::sum);
            }
        }

        /** Adds the counted uses and moves each secret's last use to now; one update per secret named. */
        public void record() {
            if (byName.isEmpty()) {
                return;
            }
            Instant now = clock.instant();
            store.inTransaction("count upstream secret uses of " + workload, () -> byName.forEach(
                    (name, n) -> store.recordUpstreamSecretUse(name, workload, n, now)));
        }
    }

    // ---- the watch stream ---------------------------------------------------------------------------------------

    @Override
    public String kind() {
        return WatchEvent.UPSTREAM_SECRET;
    }

    /**
     * Every live secret (at most {@value #MAX_SNAPSHOT}) in the revision's shape ({@code name, workload, upstream,
     * version, deleted}), by name.
     */
    @Override
    public Object snapshot() {
        return store.upstreamSecrets(Optional.empty(), false, MAX_SNAPSHOT).stream().map(UpstreamSecrets::payload)
                .toList();
    }

    private void publish(UpstreamSecretRecord r) {
        publisher.publish(WatchEvent.UPSTREAM_SECRET, payload(r));
        store.afterCommit(this::refreshCount);
    }

    private static Map<String, Object> payload(UpstreamSecretRecord r) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("name", r.name());
        p.put("workload", r.workload().toString());
        p.put("upstream", r.upstream());
        p.put("version", r.version());
        p.put("deleted", r.deleted());
        return p;
    }

    /** Re-counts the secrets held (the gauge): at start, after each write, and on the scheduler (other replicas). */
    public void refreshCount() {
        held.set(store.countUpstreamSecrets());
    }

    // ---- checks -------------------------------------------------------------------------------------------------

    private void checkBinding(String exceptionId, SpiffeId workload, String upstream, Instant now) {
        ExceptionRecord e = store.exception(exceptionId).orElseThrow(() -> ApiProblem.badRequest(
                "exception_not_found", "exceptionId: no exception " + exceptionId + " (expected: an "
                        + Exceptions.INJECT_CREDENTIAL + " exception for " + workload + " and " + upstream
                        + "; request one with ctl exception request)"));
        if (!Exceptions.INJECT_CREDENTIAL.equals(e.waive()) || !workload.toString().equals(e.workload())
                || !upstream.equals(e.upstream())) {
            throw ApiProblem.conflict("exception_scope_mismatch", "exception " + exceptionId + " waives " + e.waive()
                    + " for workload " + Objects.requireNonNullElse(e.workload(), "(any)") + " and upstream "
                    + Objects.requireNonNullElse(e.upstream(), "(any)") + " (expected: " + Exceptions.INJECT_CREDENTIAL
                    + " for exactly " + workload + " and " + upstream + ")");
        }
        State state = e.state(now);
        if (state == State.REVOKED) {
            throw ApiProblem.conflict("exception_revoked", "exception " + exceptionId + " is "
                    + State.REVOKED.wireName() + " (expected: requested or active; request a new exception)");
        }
        if (state == State.EXPIRED) {
            throw ApiProblem.conflict("exception_expired", "exception " + exceptionId + " "
                    + State.EXPIRED.wireName() + " at " + e.expiresAt() + " (expected: requested or active; request "
                    + "a new exception)");
        }
    }

    private UpstreamSecretRecord live(String name) {
        return store.upstreamSecret(name).filter(s -> !s.deleted()).orElseThrow(() -> notFound(name));
    }

    private static ApiProblem notFound(String name) {
        return ApiProblem.notFound("upstream_secret_not_found", "no upstream secret " + name
                + " (see ctl upstream-secret list)");
    }

    private static ApiProblem concurrentChange(String name) {
        return ApiProblem.conflict("upstream_secret_changed", "upstream secret " + name
                + " changed while this request ran (retry)");
    }

    static String name(String s) {
        if (s == null || s.isEmpty()) {
            throw ApiProblem.badRequest("missing_field", "name: missing (expected: 1 to 64 of a-z 0-9 . - _)");
        }
        if (!NAME.matcher(s).matches()) {
            throw ApiProblem.badRequest("invalid_name", "name: '" + ApiProblem.cut(s) + "' (expected: 1 to 64 of a-z 0-9 . - _, "
                    + "starting with a letter or digit)");
        }
        return s;
    }

    static String upstream(String s) {
        if (s == null || s.isEmpty()) {
            throw ApiProblem.badRequest("missing_field", "upstream: missing (expected: host:port)");
        }
        return Exceptions.upstream(s); // the same host:port an inject-credential exception names
    }

    private static String exceptionId(String s) {
        if (s == null || s.isBlank()) {
            throw ApiProblem.badRequest("missing_field", "exceptionId: missing (expected: the id of the "
                    + Exceptions.INJECT_CREDENTIAL + " exception the secret is bound to)");
        }
        if (s.length() > MAX_EXCEPTION_ID_LENGTH || !s.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw ApiProblem.badRequest("invalid_exception_id", "exceptionId: not an exception id (expected: "
                    + "as ctl exception list prints it)");
        }
        return s;
    }

    /** 1–8,192 bytes of visible ASCII (0x21–0x7E); the error never echoes the value. */
    static byte[] value(String s) {
        if (s == null || s.isEmpty()) {
            throw ApiProblem.badRequest("missing_field", "value: missing (expected: 1 to " + MAX_VALUE_BYTES
                    + " bytes of visible ASCII)");
        }
        if (s.length() > MAX_VALUE_BYTES) {
            throw ApiProblem.badRequest("invalid_value", "value: " + s.length() + " characters (expected: 1 to "
                    + MAX_VALUE_BYTES + " bytes of visible ASCII)");
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                throw ApiProblem.badRequest("invalid_value", "value: character " + (i + 1) + " is not visible ASCII "
                        + "(expected: 0x21 to 0x7E only: no spaces, line breaks or control characters; the value "
                        + "is not shown)");
            }
        }
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static String owner(String field, String s) {
        if (s == null || s.isBlank()) {
            throw ApiProblem.badRequest("missing_field", field + ": missing (expected: who is answerable for the "
                    + "secret; owners are required for upstream secrets)");
        }
        if (s.length() > WorkloadRegistry.MAX_OWNER_LENGTH || s.chars().anyMatch(Character::isISOControl)) {
            throw ApiProblem.badRequest("invalid_field", field + ": " + s.length() + " characters or control "
                    + "characters (expected: at most " + WorkloadRegistry.MAX_OWNER_LENGTH + " printable characters)");
        }
        return s.strip();
    }

    private static Duration rotationPeriod(Long seconds) {
        if (seconds == null) {
            throw ApiProblem.badRequest("missing_field", "rotationPeriodSeconds: missing (expected: how often the "
                    + "secret must be rotated, " + MIN_ROTATION_PERIOD.toSeconds() + " to "
                    + MAX_ROTATION_PERIOD.toSeconds() + " seconds)");
        }
        if (seconds < MIN_ROTATION_PERIOD.toSeconds() || seconds > MAX_ROTATION_PERIOD.toSeconds()) {
            throw ApiProblem.badRequest("invalid_rotation_period", "rotationPeriodSeconds: " + seconds
                    + " (expected: between " + MIN_ROTATION_PERIOD.toSeconds() + " (1h) and "
                    + MAX_ROTATION_PERIOD.toSeconds() + " (3650d))");
        }
        return Duration.ofSeconds(seconds);
    }

    private static Map<String, Object> details(UpstreamSecretRecord r) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("workload", r.workload().toString());
        d.put("upstream", r.upstream());
        d.put("exceptionId", r.exceptionId());
        d.put("version", r.version());
        return d;
    }

    // ---- views --------------------------------------------------------------------------------------------------

    /** {@code current}, {@code due} (older than its rotation period), {@code overdue} (twice), or {@code deleted}. */
    public static String rotationState(UpstreamSecretRecord s, Instant now) {
        if (s.deleted()) {
            return "deleted";
        }
        Instant due = s.rotatedAt().plus(s.rotationPeriod());
        if (now.isBefore(due)) {
            return "current";
        }
        return now.isBefore(due.plus(s.rotationPeriod())) ? "due" : "overdue";
    }

    public static UpstreamSecretView view(UpstreamSecretRecord s, Instant now) {
        return new UpstreamSecretView(s.name(), s.workload().toString(), s.upstream(), s.exceptionId(), s.version(),
                s.humanOwner(), s.serviceOwner(), s.rotationPeriod().toSeconds(), s.createdAt(), s.createdBy(),
                s.rotatedAt(), s.rotatedBy(), s.lastUsedAt().orElse(null), s.uses(), rotationState(s, now),
                s.sealedBy());
    }
}
