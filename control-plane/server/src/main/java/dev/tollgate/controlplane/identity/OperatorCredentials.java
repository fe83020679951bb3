package dev.tollgate.controlplane.identity;

import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.OperatorCredentialView;
import dev.tollgate.api.wire.OperatorRevocationRequest;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.RevocationView;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.ca.BadCsrException;
import dev.tollgate.controlplane.ca.CaManager;
import dev.tollgate.controlplane.ca.CsrParser;
import dev.tollgate.controlplane.ca.IssuedCertificate;
import dev.tollgate.controlplane.ca.TrustBundle;
import dev.tollgate.controlplane.config.Durations;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.IssuanceKind;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.IssuanceResult;
import dev.tollgate.controlplane.store.OperatorCredentialRecord;
import dev.tollgate.controlplane.store.RevocationRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.SvidRecord;
import dev.tollgate.controlplane.token.Revocations;

/**
 * Operator credentials: issued to a named person with a role, each recorded in the operator inventory together with
 * its certificate and its audit event in one transaction; listed with their state; revoked by operator name, which
 * revokes the operator's SPIFFE ID (every certificate it holds, at once, on every replica).
 */
public final class OperatorCredentials {
    public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");
    public static final int MAX_PERSON_LENGTH = 200;
    /** Who the bootstrap admin credential is recorded as issued to. */
    public static final String BOOTSTRAP_PERSON = "local operator (bootstrap admin credential of the control plane's data directory)";

    private final Store store;
    private final CaManager ca;
    private final Revocations revocations;
    private final Auditor auditor;
    private final ControlPlaneMetrics metrics;
    private final Clock clock;
    private final String trustDomain;
    private final Duration maxTtl;

    public OperatorCredentials(Store store, CaManager ca, Revocations revocations, Auditor auditor,
                               ControlPlaneMetrics metrics, Clock clock, String trustDomain, Duration maxTtl) {
        this.store = store;
        this.ca = ca;
        this.revocations = revocations;
        this.auditor = auditor;
        this.metrics = metrics;
        this.clock = clock;
        this.trustDomain = trustDomain;
        this.maxTtl = maxTtl;
    }

    /** An operator credential, asked for by an admin ({@code POST /v1/operators}). */
    public SvidResponse issue(OperatorCredentialRequest request, String actor) {
        if (request == null) {
            throw ApiProblem.badRequest("missing_body", "request body: empty (expected: {name, role, person, csr})");
        }
        SpiffeId id = id(request.name());
        OperatorRole role;
        try {
            role = OperatorRole.parse(request.role());
        } catch (IllegalArgumentException e) {
            throw ApiProblem.badRequest("invalid_role", e.getMessage());
        }
        String person = person(request.person());
        Duration ttl = ttl(request.ttlSeconds());
        PublicKey key = csrKey(request.csr(), actor);
        if (revocations.identityRevoked(id)) {
            metrics.issuance(IssuanceKind.OPERATOR, IssuanceResult.REFUSED);
            throw ApiProblem.forbidden("identity_revoked", id + " is revoked until every certificate it covered has "
                    + "expired; issue the credential under another name");
        }
        IssuedCertificate issued = issueAndRecord(id, key, ttl, role, person, actor);
        X509Certificate leaf = issued.leaf();
        TrustBundle bundle = ca.bundle();
        return new SvidResponse(id.toString(), Svids.serialHex(leaf), Pem.encodeCertificates(issued.chain()),
                leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant(), bundle.pem(), bundle.sequence());
    }

    /** Whether {@code id} is revoked: no credential is issued to it, the bootstrap admin's included. */
    public boolean revoked(SpiffeId id) {
        return revocations.identityRevoked(id);
    }

    /** The bootstrap admin credential a control plane writes to its data directory, recorded like any other. */
    public IssuedCertificate issueBootstrap(SpiffeId id, PublicKey key, Duration ttl) {
        return issueAndRecord(id, key, ttl, OperatorRole.ADMIN, BOOTSTRAP_PERSON, Auditor.SYSTEM);
    }

    private IssuedCertificate issueAndRecord(SpiffeId id, PublicKey key, Duration ttl, OperatorRole role,
                                             String person, String actor) {
        IssuedCertificate issued;
        try {
            issued = store.inTransaction("issue operator credential for " + id, () -> {
                Instant now = clock.instant();
                IssuedCertificate c = ca.issue(id, key, ttl, Optional.of(role));
                X509Certificate leaf = c.leaf();
                String serial = Svids.serialHex(leaf);
                Instant notAfter = leaf.getNotAfter().toInstant();
                if (notAfter.plusSeconds(1).isBefore(now.plus(ttl))) {
                    // the CA caps a certificate at its own expiry: say so rather than hand out a shorter one
                    throw ApiProblem.badRequest("ttl_out_of_range", "ttl: " + Durations.format(ttl)
                            + " (expected: <= " + Durations.format(Duration.between(now, notAfter).withNanos(0))
                            + ", the active CA's remaining lifetime)");
                }
                store.insertSvid(new SvidRecord(serial, id, c.caId(), "operator",
                        Svids.fingerprint(leaf.getPublicKey()), Svids.keyAlgorithm(leaf.getPublicKey()),
                        Svids.keyBits(leaf.getPublicKey()), leaf.getNotBefore().toInstant(),
                        leaf.getNotAfter().toInstant(), now, Pem.encode(leaf)));
                store.insertOperatorCredential(new OperatorCredentialRecord(serial, id, role.wireName(), person, actor,
                        now, leaf.getNotAfter().toInstant()));
                auditor.record(Auditor.OPERATOR_CREDENTIAL_ISSUED, actor, "operator.issue", id.toString(), "ok",
                        Map.of("role", role.wireName(), "serial", serial, "person", person,
                                "notAfter", leaf.getNotAfter().toInstant().toString()));
                return c;
            });
        } catch (ApiProblem p) {
            metrics.issuance(IssuanceKind.OPERATOR, IssuanceResult.BAD_REQUEST);
            throw p;
        } catch (RuntimeException e) {
            metrics.issuance(IssuanceKind.OPERATOR, IssuanceResult.ERROR);
            throw e;
        }
        metrics.issuance(IssuanceKind.OPERATOR, IssuanceResult.OK);
        return issued;
    }

    /** Operator certificates, newest first, with their state now. */
    public List<OperatorCredentialView> list(int limit) {
        Instant now = clock.instant();
        Map<SpiffeId, Optional<RevocationRecord>> revoked = new java.util.HashMap<>();
        return store.operatorCredentials(Optional.empty(), limit).stream().map(c -> {
            Optional<RevocationRecord> r = revoked.computeIfAbsent(c.spiffeId(), id -> store
                    .revocation(RevocationSet.Type.SPIFFE_ID.wireName(), id.toString())
                    .filter(x -> now.isBefore(x.expiresAt())));
            String state = r.isPresent() ? "revoked" : now.isBefore(c.notAfter()) ? "active" : "expired";
            return new OperatorCredentialView(c.serialHex(), c.spiffeId().toString(), c.spiffeId().name(), c.role(),
                    c.issuedTo(), c.issuedBy(), c.issuedAt(), c.notAfter(), state,
                    r.map(RevocationRecord::at).orElse(null), r.map(RevocationRecord::actor).orElse(null));
        }).toList();
    }

    /**
     * Revokes an operator by name ({@code POST /v1/operators/{name}/revoke}): its SPIFFE ID is revoked, so each of
     * its certificates is refused on every route at once, its revocation audited and published.
     */
    public RevocationView revoke(String name, OperatorRevocationRequest request, String actor) {
        SpiffeId id = id(name);
        if (store.operatorCredentials(Optional.of(id), 1).isEmpty() && store.svids(Optional.of(id), 1).isEmpty()) {
            throw ApiProblem.notFound("operator_not_found", "no credential was ever issued to " + id
                    + " (see GET /v1/operators)");
        }
        String reason = request == null ? null : request.reason();
        return revocations.revoke(new RevocationRequest(RevocationSet.Type.SPIFFE_ID.wireName(), id.toString(), reason),
                actor);
    }

    private SpiffeId id(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw ApiProblem.badRequest("invalid_operator_name", "name: '" + name
                    + "' (expected: lowercase letters, digits, '.', '_' or '-', at most 64)");
        }
        return SpiffeId.of(trustDomain, SpiffeId.Kind.OPERATOR, name);
    }

    private static String person(String person) {
        if (person == null || person.isBlank()) {
            throw ApiProblem.badRequest("missing_field",
                    "person: missing (expected: who the credential is for, like alice@example.com)");
        }
        if (person.length() > MAX_PERSON_LENGTH) {
            throw ApiProblem.badRequest("field_too_long", "person: " + person.length() + " characters (expected: <= "
                    + MAX_PERSON_LENGTH + ")");
        }
        for (int i = 0; i < person.length(); i++) {
            if (Character.isISOControl(person.charAt(i))) {
                throw ApiProblem.badRequest("control_character", "person: contains a control character at " + i);
            }
        }
        return person.strip();
    }

    /** The lifetime asked for, or operators.max-ttl; more than operators.max-ttl is refused, never shortened. */
    private Duration ttl(Long requestedSeconds) {
        if (requestedSeconds == null) {
            return maxTtl;
        }
        if (requestedSeconds < WorkloadRegistry.MIN_TTL.toSeconds()) {
            throw ApiProblem.badRequest("ttl_out_of_range", "ttl: " + Durations.format(Duration.ofSeconds(
                    Math.max(0, requestedSeconds))) + " (expected: >= " + Durations.format(WorkloadRegistry.MIN_TTL) + ")");
        }
        Duration asked = Duration.ofSeconds(requestedSeconds);
        if (asked.compareTo(maxTtl) > 0) {
            throw ApiProblem.badRequest("ttl_out_of_range", "ttl: " + Durations.format(asked) + " (expected: <= "
                    + Durations.format(maxTtl) + ", operators.max-ttl)");
        }
        return asked;
    }

    private PublicKey csrKey(String csr, String actor) {
        if (csr == null) {
            metrics.issuance(IssuanceKind.OPERATOR, IssuanceResult.BAD_REQUEST);
            throw ApiProblem.badRequest("missing_field", "csr: missing (expected: a PKCS#10 CSR in PEM)");
        }
        try {
            return CsrParser.publicKey(csr.getBytes(StandardCharsets.UTF_8));
        } catch (BadCsrException e) {
            metrics.issuance(IssuanceKind.OPERATOR, IssuanceResult.BAD_CSR);
            auditor.recordQuietly(Auditor.SVID_REFUSED, actor, "svid.operator", "", "bad_csr",
                    Map.of("reason", e.reason().wireName()));
            throw ApiProblem.badRequest("bad_csr:" + e.reason().wireName(), "csr: " + e.getMessage());
        }
    }
}
