package dev.tollgate.controlplane.inventory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.PostureView;
import dev.tollgate.controlplane.config.Durations;
import dev.tollgate.controlplane.governance.Exceptions;
import dev.tollgate.controlplane.store.ExceptionRecord;
import dev.tollgate.controlplane.store.RevocationRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.TaskState;

/**
 * The posture report: rules over the inventory's live assets that say what is weak, unowned, long-lived, expiring
 * or overdue, each finding with why it matters and what to do. Evaluated on request and on a schedule (the metrics
 * show the latest evaluation). Pure reads: a report changes nothing.
 */
public final class Posture {
    /** Most findings a report lists (the counts cover all of them). */
    public static final int MAX_FINDINGS = 1000;

    /** How bad a finding is; the score falls by {@link #weight} per finding. */
    public enum Severity {
        CRITICAL(25), HIGH(10), MEDIUM(3), LOW(1);

        final int weight;

        Severity(int weight) {
            this.weight = weight;
        }

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Every rule, with its severity, why it matters and what to do. */
    public enum Rule {
        WEAK_KEY("weak-key", Severity.HIGH, "Weak key",
                "a key this small (RSA under 2048 bits, under 3072 for a CA; a P-192 or P-224 curve) can be broken or "
                        + "will be soon; whatever it signs or protects can be forged",
                "re-issue with ECDSA P-256 (or RSA 3072+); for a CA, configure a stronger key and rotate (ctl ca rotate)"),
        WEAK_SIGNATURE("weak-signature", Severity.HIGH, "Weak signature algorithm",
                "SHA-1 (or MD5) signatures admit chosen-prefix collisions: a certificate signed this way can be forged",
                "re-issue the certificate with a SHA-256 or stronger signature"),
        NO_OWNER("no-owner", Severity.MEDIUM, "No owner",
                "nobody is accountable for an asset without a human and a service owner: no one rotates it, no one is "
                        + "paged when it leaks",
                "set its owners: ctl inventory owner KIND ID (or '*' for the kind); for a workload's asset whose "
                        + "workload was deleted, revoke it"),
        LIFETIME_OVER_POLICY("lifetime-over-policy", Severity.MEDIUM, "Lifetime over policy",
                "a credential that lives longer than policy allows stays useful to a thief for longer",
                "issue it again with a shorter lifetime, and lower the issuing limit (svid.max-ttl, tokens.max-task-ttl, "
                        + "operators.max-ttl, join-token.max-ttl)"),
        EXPIRING_SOON("expiring-soon", Severity.MEDIUM, "Expiring soon",
                "a long-lived asset (a CA, an operator credential) that expires unnoticed stops whatever depends on it",
                "renew or rotate it before it expires"),
        ROTATION_OVERDUE("rotation-overdue", Severity.HIGH, "Rotation overdue",
                "a signing key past its rotation time has signed for longer than intended: more tokens depend on it "
                        + "and a leak of it reaches further",
                "check that the control plane's upkeep runs (logs, tollgate_cp_* metrics), or rotate now: "
                        + "ctl signing-key rotate"),
        CA_EXPIRED("ca-expired", Severity.CRITICAL, "Signing CA expired",
                "the CA that signs has expired: no SVID can be issued or renewed, and every sidecar fails closed as "
                        + "its SVID runs out",
                "rotate now (ctl ca rotate; with a provided CA, install a new one) and find out why the schedule did "
                        + "not rotate it (ca.prepare-at, ca.activate-at, the upkeep logs)"),
        CA_WITHOUT_SUCCESSOR("ca-without-successor", Severity.CRITICAL, "CA near expiry without a successor",
                "when the signing CA expires with no prepared CA in the bundle, no SVID can be issued or renewed and "
                        + "every sidecar fails closed",
                "rotate now (ctl ca rotate) and check ca.prepare-at / ca.activate-at and the upkeep logs"),
        SIGNING_KEY_NEVER_ROTATED("signing-key-never-rotated", Severity.MEDIUM, "Signing key never rotated",
                "the only token signing key ever made is older than its rotation period: rotation has never been "
                        + "exercised, so a compromise would need a first-ever rotation under pressure",
                "rotate once now (ctl signing-key rotate) and check tokens.signing-key-rotation"),
        REVOKED_IDENTITY_JOIN_TOKEN("revoked-identity-join-token", Severity.HIGH,
                "Revoked identity holds an outstanding join token",
                "a join token of a revoked identity is refused today, but lifting the revocation would let whoever "
                        + "holds the token join",
                "revoke the token: ctl join-token revoke ID"),
        REVOKED_IDENTITY_ACTIVE_TASK("revoked-identity-active-task", Severity.HIGH,
                "Revoked identity has an active task",
                "the task's tokens are refused while the identity is revoked, but the task stays open and its tokens "
                        + "become usable again if the revocation is lifted",
                "complete the task: ctl task complete ID"),
        EXCEPTION_EXPIRING("exception-expiring", Severity.MEDIUM, "Exception expiring soon",
                "when the exception expires (within 3 days) its sidecar refuses what it waived: the integration it "
                        + "covers stops",
                "finish the migration it was for, or have a new exception requested and approved in time: "
                        + "ctl exception request ..."),
        EXCEPTION_REVIEW_OVERDUE("exception-review-overdue", Severity.HIGH, "Exception review overdue",
                "an exception nobody reviewed by its review date may waive a control for an integration that no "
                        + "longer needs it",
                "an admin other than its requester reviews it (ctl exception review ID) or revokes it "
                        + "(ctl exception revoke ID --reason ...)"),
        EXCEPTION_USED_AFTER_REVIEW("exception-used-after-review", Severity.HIGH, "Exception used after its review date",
                "requests still pass under an exception that should have been reviewed: the waiver is in use "
                        + "without anyone having confirmed it is still needed",
                "review it now (ctl exception review ID) with its human owner, or revoke it"),
        EXCEPTION_EXPIRED("exception-expired", Severity.LOW, "Exception expired",
                "the exception ended recently: what it waived is refused now, so the integration it covered fails "
                        + "unless it was migrated",
                "check that the integration was migrated; if not, request a new exception "
                        + "(ctl exception request ...)"),
        WEAK_UPSTREAM_TLS("weak-upstream-tls", Severity.HIGH, "Weak upstream TLS",
                "a sidecar reaches this upstream over TLS below 1.3, with a cipher that is not AEAD, a weak peer key "
                        + "(RSA under 2048 bits, EC under 256), a SHA-1 or MD5 signature, or a certificate that "
                        + "expires soon or has expired: what the agent sends there can be read or altered, or the "
                        + "calls will start failing",
                "have the upstream's operator offer TLS 1.3 with an AEAD suite and a current ECDSA P-256 or RSA "
                        + "2048+ certificate signed with SHA-256; until then, acknowledge it with an exception: "
                        + "ctl exception request --waive weak-upstream-tls --workload ID --upstream HOST:PORT"),
        CREDENTIALS_EXEMPT_IN_USE("credentials-exempt-in-use", Severity.MEDIUM, "credentials.exempt in use",
                "the workload's sidecar let requests through without a task credential under its local "
                        + "credentials.exempt list (development mode): nobody approved it, it never expires and "
                        + "the control plane cannot revoke it",
                "remove credentials.exempt from the sidecar's configuration; for a legacy integration that cannot "
                        + "take task tokens, request a time-boxed exception: ctl exception request --waive "
                        + "no-task-token --workload ID"),
        UPSTREAM_SECRET_ROTATION_DUE("upstream-secret-rotation-due", Severity.MEDIUM,
                "Upstream secret older than its rotation period",
                "a static credential kept past its rotation period has been exposed to every system that handled it "
                        + "for longer than its owners agreed; a leak of it stays useful until it is changed",
                "change it at the upstream and here: ctl upstream-secret rotate NAME --value-file FILE"),
        UPSTREAM_SECRET_EXCEPTION_INACTIVE("upstream-secret-exception-inactive", Severity.MEDIUM,
                "Upstream secret bound to an exception that is no longer active",
                "the exception that justified holding the secret expired or was revoked: sidecars no longer get it, "
                        + "yet the control plane still holds a static credential nobody is accountable for using",
                "delete it (ctl upstream-secret delete NAME), or have a new exception approved and put the secret "
                        + "again under it");

        public final String id;
        public final Severity severity;
        public final String title;
        public final String why;
        public final String fix;

        Rule(String id, Severity severity, String title, String why, String fix) {
            this.id = id;
            this.severity = severity;
            this.title = title;
            this.why = why;
            this.fix = fix;
        }
    }

    /** Every rule's id: what a {@code posture:<rule>} exception may name. */
    public static Set<String> ruleIds() {
        return java.util.Arrays.stream(Rule.values()).map(r -> r.id).collect(Collectors.toUnmodifiableSet());
    }

    /**
     * @param expiringWithin how close to expiry a long-lived asset (CA, operator credential) is reported
     * @param maxLifetime    the longest lifetime policy allows, per kind; kinds not named have no limit
     * @param caPrepareAt    ca.prepare-at: the fraction of a CA's life at which its successor is prepared
     */
    public record Settings(Duration expiringWithin, Map<Inventory.Kind, Duration> maxLifetime, double caPrepareAt) {
        public static final Duration DEFAULT_EXPIRING_WITHIN = Duration.ofDays(14);

        public static Map<Inventory.Kind, Duration> defaultMaxLifetimes() {
            Map<Inventory.Kind, Duration> m = new EnumMap<>(Inventory.Kind.class);
            m.put(Inventory.Kind.CA, Duration.ofDays(398));
            m.put(Inventory.Kind.OPERATOR_CREDENTIAL, Duration.ofDays(30));
            m.put(Inventory.Kind.SVID, Duration.ofHours(24));
            m.put(Inventory.Kind.TASK_TOKEN, Duration.ofHours(24));
            m.put(Inventory.Kind.EXCHANGED_TOKEN, Duration.ofMinutes(10));
            m.put(Inventory.Kind.JOIN_TOKEN, Duration.ofDays(1));
            return m;
        }

        public Settings {
            maxLifetime = Map.copyOf(maxLifetime);
        }
    }

    private static final Set<String> DEAD = Set.of("expired", "revoked", "used", "retired");

    private final Inventory inventory;
    private final Store store;
    private final Clock clock;
    private final Settings settings;
    private volatile PostureView latest;
    private long latestAuditSeq = -1;

    public Posture(Inventory inventory, Store store, Clock clock, Settings settings) {
        this.inventory = inventory;
        this.store = store;
        this.clock = clock;
        this.settings = settings;
    }

    /** An upstream secret past its rotation period, or bound to an exception that expired, was revoked or is gone. */
    static void checkUpstreamSecret(InventoryAssetView a, List<PostureView.Finding> found) {
        if (!a.kind().equals("upstream_secret")) {
            return;
        }
        if (a.state().equals("due") || a.state().equals("overdue")) {
            found.add(finding(Rule.UPSTREAM_SECRET_ROTATION_DUE, a, "last rotated " + a.details().get("rotatedAt")
                    + "; rotation period " + a.details().get("rotationPeriodSeconds") + "s"));
        }
        Object state = a.details().get("exceptionState");
        if ("expired".equals(state) || "revoked".equals(state) || "unknown".equals(state)) {
            found.add(finding(Rule.UPSTREAM_SECRET_EXCEPTION_INACTIVE, a, "exception " + a.details().get("exceptionId")
                    + " is " + state));
        }
    }

    /** The latest evaluation, if one ran (the metrics read it). */
    public Optional<PostureView> latest() {
        return Optional.ofNullable(latest);
    }

    /**
     * The latest evaluation when it is younger than {@code maxAge} and nothing was audited since, else a new one; one
     * evaluation at a time (a caller that finds one running waits for it and gets its result).
     */
    public synchronized PostureView current(Duration maxAge) {
        PostureView l = latest;
        long head = store.auditHead().seq();
        if (l != null && head == latestAuditSeq && Duration.between(l.at(), clock.instant()).compareTo(maxAge) < 0) {
            return l; // nothing was recorded since: every change of state is an audit event
        }
        return evaluate();
    }

    /** Evaluates every rule over the inventory now. */
    public synchronized PostureView evaluate() {
        Instant now = clock.instant();
        long head = store.auditHead().seq();
        Inventory.Live live = inventory.live();
        List<PostureView.Finding> found = new ArrayList<>();
        for (InventoryAssetView a : live.assets()) {
            if (a.kind().equals("ca") && a.state().equals("expired") && "active".equals(a.details().get("storedState"))) {
                found.add(finding(Rule.CA_EXPIRED, a, "signed until " + a.expiresAt()));
            }
        }
        List<InventoryAssetView> assets = live.assets().stream().filter(a -> !DEAD.contains(a.state())).toList();
        boolean caPrepared = assets.stream().anyMatch(a -> a.kind().equals("ca") && a.state().equals("prepared"));
        for (InventoryAssetView a : live.assets()) {
            if (a.kind().equals(Inventory.Kind.UPSTREAM_TLS.wireName())) {
                checkUpstreamTls(a, now, settings, found); // an expired upstream certificate is a finding too
            }
        }
        checkExemptUse(now, found);
        for (InventoryAssetView a : assets) {
            if (a.kind().equals(Inventory.Kind.UPSTREAM_TLS.wireName())) {
                checkOwner(a, found); // its key and signature are weak-upstream-tls's
                continue;
            }
            checkKey(a, found);
            checkSignature(a, found);
            checkOwner(a, found);
            checkLifetime(a, found);
            checkExpiry(a, now, caPrepared, settings, found);
            if (a.kind().equals("signing_key") && a.state().equals("overdue")) {
                found.add(finding(Rule.ROTATION_OVERDUE, a, "active since " + a.createdAt() + "; rotation was due "
                        + a.details().get("nextRotation")));
            }
        }
        for (InventoryAssetView a : assets) {
            checkUpstreamSecret(a, found);
        }
        checkCaSuccessor(assets, now, settings, found);
        checkSigningKeyRotated(assets, now, found);
        checkRevokedIdentities(assets, now, found);
        List<ExceptionRecord> exceptions = Exceptions.all(store);
        checkExceptions(exceptions, now, settings, found);
        acknowledge(exceptions, now, found);

        found.sort(Comparator.comparing((PostureView.Finding f) -> Severity.valueOf(f.severity().toUpperCase(Locale.ROOT)))
                .thenComparing(PostureView.Finding::rule).thenComparing(PostureView.Finding::assetKind)
                .thenComparing(PostureView.Finding::assetId));
        Map<String, Integer> bySeverity = new LinkedHashMap<>();
        for (Severity s : Severity.values()) {
            bySeverity.put(s.wireName(), 0);
        }
        Map<String, Integer> byRule = new LinkedHashMap<>();
        for (Rule r : Rule.values()) {
            byRule.put(r.id, 0);
        }
        int penalty = 0;
        for (PostureView.Finding f : found) {
            if (f.acknowledgedBy() != null) {
                continue; // listed, not counted: an active posture exception waives it
            }
            bySeverity.merge(f.severity(), 1, Integer::sum);
            byRule.merge(f.rule(), 1, Integer::sum);
            penalty += Severity.valueOf(f.severity().toUpperCase(Locale.ROOT)).weight;
        }
        boolean truncated = found.size() > MAX_FINDINGS;
        PostureView report = new PostureView(now, Math.max(0, 100 - penalty), assets.size(), bySeverity, byRule,
                List.copyOf(truncated ? found.subList(0, MAX_FINDINGS) : found), truncated, live.truncated());
        latest = report;
        latestAuditSeq = head;
        return report;
    }

    /** The exception rules, over the exception records (an expired one is history to the inventory, not here). */
    static void checkExceptions(List<ExceptionRecord> exceptions, Instant now, Settings settings,
                                List<PostureView.Finding> out) {
        for (ExceptionRecord e : exceptions) {
            ExceptionRecord.State s = e.state(now);
            if (s == ExceptionRecord.State.ACTIVE) {
                if (!e.expiresAt().isAfter(now.plus(Exceptions.EXPIRING_WITHIN))) {
                    out.add(exceptionFinding(Rule.EXCEPTION_EXPIRING, e, "expires " + e.expiresAt() + ", in "
                            + Durations.format(Duration.between(now, e.expiresAt()).truncatedTo(
                            java.time.temporal.ChronoUnit.SECONDS))));
                }
                if (Exceptions.usedAfterReview(e)) {
                    out.add(exceptionFinding(Rule.EXCEPTION_USED_AFTER_REVIEW, e, "last used " + e.lastUsedAt()
                            + ", after its review date " + e.reviewBy() + " (" + e.uses() + " uses in all)"));
                } else if (!now.isBefore(e.reviewBy())) {
                    out.add(exceptionFinding(Rule.EXCEPTION_REVIEW_OVERDUE, e, "review was due " + e.reviewBy()
                            + (e.reviewedAt() == null ? "; never reviewed" : "; last reviewed " + e.reviewedAt())));
                }
            } else if (s == ExceptionRecord.State.EXPIRED && e.approvedAt() != null
                    && e.expiresAt().isAfter(now.minus(settings.expiringWithin()))) {
                out.add(exceptionFinding(Rule.EXCEPTION_EXPIRED, e, "expired " + e.expiresAt() + " after "
                        + e.uses() + " uses"));
            }
        }
    }

    private static PostureView.Finding exceptionFinding(Rule r, ExceptionRecord e, String detail) {
        String scope = e.waive() + (e.workload() != null ? " for " + e.workload() : "")
                + (e.upstream() != null ? " to " + e.upstream() : "")
                + (e.assetKind() != null ? " on " + e.assetKind() + " " + e.assetId() : "");
        return new PostureView.Finding(r.id, r.severity.wireName(), r.title, "exception", e.id(), e.workload(),
                e.humanOwner(), null, scope + ": " + detail, r.why, r.fix);
    }

    /**
     * Marks each finding that an active {@code posture:<rule>} exception covers (the finding's asset, or its
     * workload) as acknowledged by that exception, and each {@code weak-upstream-tls} finding that an active
     * {@code weak-upstream-tls} exception of the same workload and upstream covers.
     */
    static void acknowledge(List<ExceptionRecord> exceptions, Instant now, List<PostureView.Finding> found) {
        List<ExceptionRecord> waivers = exceptions.stream()
                .filter(e -> (e.waive().startsWith(Exceptions.POSTURE_PREFIX)
                        || e.waive().equals(Exceptions.WEAK_UPSTREAM_TLS))
                        && e.state(now) == ExceptionRecord.State.ACTIVE)
                .toList();
        if (waivers.isEmpty()) {
            return;
        }
        for (int i = 0; i < found.size(); i++) {
            PostureView.Finding f = found.get(i);
            for (ExceptionRecord e : waivers) {
                if (e.waive().equals(Exceptions.WEAK_UPSTREAM_TLS)) {
                    // a weak-upstream-tls exception for the reporting workload and that upstream (host:port)
                    if (f.rule().equals(Rule.WEAK_UPSTREAM_TLS.id) && e.workload() != null
                            && e.workload().equals(f.workload()) && e.upstream() != null && f.assetId() != null
                            && e.upstream().equalsIgnoreCase(Inventory.upstreamOf(f.assetId()))) {
                        found.set(i, f.acknowledged(e.id()));
                        break;
                    }
                    continue;
                }
                if (!e.waive().equals(Exceptions.POSTURE_PREFIX + f.rule())) {
                    continue;
                }
                boolean asset = e.assetKind() != null && e.assetKind().equals(f.assetKind())
                        && e.assetId().equals(f.assetId());
                boolean workload = e.assetKind() == null && e.workload() != null && e.workload().equals(f.workload());
                if (asset || workload) {
                    found.set(i, f.acknowledged(e.id()));
                    break;
                }
            }
        }
    }

    private static PostureView.Finding finding(Rule r, InventoryAssetView a, String detail) {
        return new PostureView.Finding(r.id, r.severity.wireName(), r.title, a.kind(), a.id(), a.workload(),
                a.humanOwner(), a.serviceOwner(), detail, r.why, r.fix);
    }

    static void checkKey(InventoryAssetView a, List<PostureView.Finding> out) {
        String alg = a.algorithm() == null ? "" : a.algorithm();
        Integer bits = a.keyBits();
        boolean ca = a.kind().equals("ca");
        if (alg.startsWith("RSA") && bits != null && bits < (ca ? 3072 : 2048)) {
            out.add(finding(Rule.WEAK_KEY, a, "RSA " + bits + " bits (expected: >= " + (ca ? 3072 : 2048) + ")"));
        } else if (alg.contains("P-192") || alg.contains("P-224")) {
            out.add(finding(Rule.WEAK_KEY, a, alg + " (expected: P-256 or larger)"));
        }
    }

    static void checkSignature(InventoryAssetView a, List<PostureView.Finding> out) {
        Object sig = a.details().get("signatureAlgorithm");
        if (sig != null) {
            String s = sig.toString().toUpperCase(Locale.ROOT);
            if (s.startsWith("SHA1") || s.startsWith("MD5") || s.startsWith("MD2")) {
                out.add(finding(Rule.WEAK_SIGNATURE, a, "signed with " + sig));
            }
        }
    }

    /**
     * One weak-upstream-tls finding per upstream TLS asset with any weakness, all of them in its detail. The finding's
     * workload is the reporting workload and its asset id {@code host:port#serial} ({@link Inventory#upstreamOf}
     * gives the upstream an exception names).
     */
    static void checkUpstreamTls(InventoryAssetView a, Instant now, Settings settings, List<PostureView.Finding> out) {
        List<String> weak = new ArrayList<>();
        Map<String, Object> d = a.details();
        String protocol = String.valueOf(d.get("protocol"));
        if (!protocol.equals("TLSv1.3")) {
            weak.add(protocol + " (expected: TLSv1.3)");
        }
        String cipher = String.valueOf(d.get("cipher"));
        if (!aead(cipher)) {
            weak.add("cipher " + cipher + " is not AEAD");
        }
        String type = String.valueOf(d.get("peerKeyType"));
        int bits = a.keyBits() == null ? 0 : a.keyBits();
        if ((type.equals("RSA") || type.equals("DSA")) && bits < 2048) {
            weak.add(type + " " + bits + "-bit peer key (expected: >= 2048)");
        } else if (type.equals("EC") && bits < 256) {
            weak.add("EC " + bits + "-bit peer key (expected: >= 256)");
        }
        String sig = String.valueOf(d.get("signatureAlgorithm"));
        String upper = sig.toUpperCase(Locale.ROOT);
        if (upper.contains("SHA1") || upper.contains("SHA-1") || upper.contains("MD5") || upper.contains("MD2")) {
            weak.add("certificate signed with " + sig);
        }
        if (a.expiresAt() != null) {
            if (!a.expiresAt().isAfter(now)) {
                weak.add("certificate expired " + a.expiresAt());
            } else if (!a.expiresAt().isAfter(now.plus(settings.expiringWithin()))) {
                weak.add("certificate expires " + a.expiresAt() + ", within posture.expiring-within ("
                        + Durations.format(settings.expiringWithin()) + ")");
            }
        }
        if (!weak.isEmpty()) {
            out.add(finding(Rule.WEAK_UPSTREAM_TLS, a, Inventory.upstreamOf(a.id()) + " as seen by " + a.workload()
                    + ": " + String.join("; ", weak)));
        }
    }

    /** AEAD suites by their IANA names: GCM, CCM and ChaCha20-Poly1305 (every TLS 1.3 suite is one). */
    static boolean aead(String cipher) {
        String c = cipher.toUpperCase(Locale.ROOT);
        return c.contains("_GCM") || c.contains("_CCM") || c.contains("CHACHA20_POLY1305");
    }

    /** A finding per workload whose sidecar let requests through under credentials.exempt within the window. */
    private void checkExemptUse(Instant now, List<PostureView.Finding> out) {
        Rule r = Rule.CREDENTIALS_EXEMPT_IN_USE;
        var uses = store.exemptUse(now.minus(settings.expiringWithin()), Inventory.SCAN_LIMIT);
        if (uses.isEmpty()) {
            return;
        }
        // one read of the workloads, not one per use; a use under a name that is no workload's has no owners
        Map<String, dev.tollgate.controlplane.store.Workload> workloads = new HashMap<>();
        for (var w : store.workloads()) {
            workloads.put(w.id().toString(), w);
        }
        for (var use : uses) {
            Optional<dev.tollgate.controlplane.store.Workload> w = Optional.ofNullable(workloads.get(use.workload()));
            out.add(new PostureView.Finding(r.id, r.severity.wireName(), r.title, "workload", use.workload(),
                    use.workload(), w.map(x -> x.humanOwner()).orElse(null), w.map(x -> x.serviceOwner()).orElse(null),
                    use.uses() + " requests let through under credentials.exempt since " + use.firstSeen()
                            + ", the latest at " + use.lastSeen(), r.why, r.fix));
        }
    }

    private static void checkOwner(InventoryAssetView a, List<PostureView.Finding> out) {
        if (a.humanOwner() == null || a.serviceOwner() == null) {
            String detail = a.workload() != null ? "its workload " + a.workload() + " is no longer registered"
                    : "no owners set for this asset or its kind";
            out.add(finding(Rule.NO_OWNER, a, detail));
        }
    }

    private void checkLifetime(InventoryAssetView a, List<PostureView.Finding> out) {
        Duration max = settings.maxLifetime().get(Inventory.Kind.parse("kind", a.kind()));
        if (max == null || a.createdAt() == null || a.expiresAt() == null) {
            return;
        }
        Duration life = Duration.between(a.createdAt(), a.expiresAt());
        if (life.compareTo(max) > 0) {
            out.add(finding(Rule.LIFETIME_OVER_POLICY, a, "lives " + Durations.format(life.withNanos(0))
                    + " (policy: at most " + Durations.format(max) + ", posture.max-lifetime." + a.kind().replace('_', '-') + ")"));
        }
    }

    /**
     * A long-lived asset (CA, operator credential) whose remaining life is under both expiring-within and a quarter
     * of its lifetime: one renewed on schedule (the bootstrap credential at half life) never gets there. The signing
     * CA is left to ca-without-successor while a successor is prepared.
     */
    static void checkExpiry(InventoryAssetView a, Instant now, boolean caPrepared, Settings settings,
                            List<PostureView.Finding> out) {
        boolean longLived = a.kind().equals("ca") || a.kind().equals("operator_credential");
        if (!longLived || a.expiresAt() == null || a.createdAt() == null || a.state().equals("superseded")
                || a.state().equals("prepared") || (a.kind().equals("ca") && caPrepared)) {
            return;
        }
        Duration quarter = Duration.between(a.createdAt(), a.expiresAt()).dividedBy(4);
        Duration window = quarter.compareTo(settings.expiringWithin()) < 0 ? quarter : settings.expiringWithin();
        if (a.expiresAt().isAfter(now) && !a.expiresAt().isAfter(now.plus(window))) {
            out.add(finding(Rule.EXPIRING_SOON, a, "expires " + a.expiresAt() + ", in "
                    + Durations.format(Duration.between(now, a.expiresAt()).withNanos(0).truncatedTo(java.time.temporal.ChronoUnit.SECONDS))));
        }
    }

    /**
     * The signing CA has no prepared successor although the schedule should have prepared one (at ca.prepare-at of
     * its life, with a tenth of its life as grace) and it expires within expiring-within.
     */
    static void checkCaSuccessor(List<InventoryAssetView> assets, Instant now, Settings settings,
                                 List<PostureView.Finding> out) {
        boolean prepared = assets.stream().anyMatch(a -> a.kind().equals("ca") && a.state().equals("prepared"));
        for (InventoryAssetView a : assets) {
            if (!a.kind().equals("ca") || !a.state().equals("current") || prepared || a.expiresAt() == null
                    || a.createdAt() == null) {
                continue;
            }
            Duration life = Duration.between(a.createdAt(), a.expiresAt());
            double fraction = Math.max(0.0, 1.0 - settings.caPrepareAt() - 0.1);
            Duration overdue = Duration.ofMillis((long) (life.toMillis() * fraction));
            Duration window = overdue.compareTo(settings.expiringWithin()) < 0 ? overdue : settings.expiringWithin();
            if (!a.expiresAt().isAfter(now.plus(window))) {
                out.add(finding(Rule.CA_WITHOUT_SUCCESSOR, a, "signs until " + a.expiresAt()
                        + " and no prepared CA is in the bundle"));
            }
        }
    }

    private void checkSigningKeyRotated(List<InventoryAssetView> assets, Instant now, List<PostureView.Finding> out) {
        if (store.signingKeys().size() != 1) {
            return;
        }
        for (InventoryAssetView k : assets) {
            if (k.kind().equals("signing_key") && (k.state().equals("due") || k.state().equals("overdue"))) {
                out.add(finding(Rule.SIGNING_KEY_NEVER_ROTATED, k, "the only signing key ever made, created "
                        + k.createdAt()));
            }
        }
    }

    private void checkRevokedIdentities(List<InventoryAssetView> assets, Instant now, List<PostureView.Finding> out) {
        Set<String> revoked = store.revocations(now, Inventory.SCAN_LIMIT).stream()
                .filter(r -> r.type().equals("spiffe_id")).map(RevocationRecord::value).collect(Collectors.toSet());
        if (revoked.isEmpty()) {
            return;
        }
        for (InventoryAssetView a : assets) {
            if (a.kind().equals("join_token") && a.state().equals("outstanding") && revoked.contains(a.workload())) {
                out.add(finding(Rule.REVOKED_IDENTITY_JOIN_TOKEN, a, a.workload() + " is revoked; token " + a.id()
                        + " expires " + a.expiresAt()));
            }
        }
        for (String id : revoked) {
            SpiffeId sid;
            try {
                sid = SpiffeId.parse(id);
            } catch (RuntimeException e) {
                continue;
            }
            store.tasks(Optional.of(sid), Optional.of(TaskState.ACTIVE), Inventory.SCAN_LIMIT).stream()
                    .filter(t -> t.expiresAt().isAfter(now)).forEach(t ->
                    out.add(new PostureView.Finding(Rule.REVOKED_IDENTITY_ACTIVE_TASK.id,
                            Rule.REVOKED_IDENTITY_ACTIVE_TASK.severity.wireName(), Rule.REVOKED_IDENTITY_ACTIVE_TASK.title,
                            "task", t.id(), id, null, null, id + " is revoked; task " + t.id() + " is active until "
                            + t.expiresAt(), Rule.REVOKED_IDENTITY_ACTIVE_TASK.why, Rule.REVOKED_IDENTITY_ACTIVE_TASK.fix)));
        }
    }
}
