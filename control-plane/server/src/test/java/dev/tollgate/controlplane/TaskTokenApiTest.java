package dev.tollgate.controlplane;

import static dev.tollgate.controlplane.ControlPlaneApiContract.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.nimbusds.jwt.SignedJWT;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.AuditFilter;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.token.ArgumentConstraint;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.TokenKeySet;
import dev.tollgate.api.token.TokenRejection;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.token.VerificationResult;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.RevocationEvent;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.RevocationView;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.TaskView;
import dev.tollgate.api.wire.TokenExchangeResponse;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.watch.RecordingPublisher;
import dev.tollgate.controlplane.watch.SnapshotSource;
import dev.tollgate.testing.MutableClock;

/** Tasks, task tokens, token exchange, revocation and signing keys end to end over real mTLS (SQLite). */
class TaskTokenApiTest {
    static final SpiffeId AGENT = TestControlPlane.agent("researcher");
    static final SpiffeId OTHER = TestControlPlane.agent("other");
    static final SpiffeId CRM = TestControlPlane.tool("crm");
    static final String ISSUER = TokenClaims.issuer(TestControlPlane.TRUST_DOMAIN);

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock();
    final RecordingPublisher published = new RecordingPublisher();
    TestControlPlane tcp;
    ControlPlaneClient admin;

    @BeforeEach
    void start() {
        tcp = TestControlPlane.start(dir, null, clock, Map.of("tokens.signing-key-rotation", "5m"), published);
        admin = tcp.admin();
        admin.registerWorkload(new WorkloadSpec(AGENT.toString(), "alice@example.com", "team-agents", "research",
                List.of("crm.read", "crm.search", "mail.send"), null, 600L));
        tcp.register(OTHER, "crm.read");
        tcp.register(CRM);
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    TaskCreatedView task(ControlPlaneClient as, SpiffeId agent, long ttlSeconds, String... tools) {
        return as.createTask(new TaskSpec(agent.toString(), java.util.Arrays.stream(tools).map(ToolGrant::of).toList(),
                "summarise the quarter's accounts", ttlSeconds));
    }

    TokenKeySet servedKeys(ControlPlaneClient c) {
        return TokenKeySet.parse(c.tokenJwks());
    }

    VerificationResult verifyTask(String token, SpiffeId agent) {
        TokenKeySet keys = servedKeys(tcp.anonymous());
        return TokenVerifier.builder(ISSUER, TokenType.TASK, agent.toString(), () -> keys).clock(clock).build()
                .verify(token, agent);
    }

    @Test
    void taskTokenCarriesExactlyTheDocumentedHeaderAndClaimsAndVerifiesWithTheServedJwks() throws Exception {
        List<ToolGrant> scope = List.of(new ToolGrant("crm.read", List.of(
                new ArgumentConstraint("/account", null, List.of("acme", "globex"), null, null))), ToolGrant.of("crm.search"));
        TaskCreatedView created = admin.createTask(new TaskSpec(AGENT.toString(), scope, "quarterly review", 300L));

        SignedJWT jwt = SignedJWT.parse(created.token());
        assertThat(jwt.getHeader().getAlgorithm().getName()).isEqualTo("ES256");
        assertThat(jwt.getHeader().getType().getType()).isEqualTo("tollgate-task+jwt");
        assertThat(jwt.getHeader().getKeyID()).isEqualTo(tcp.cp.tokens().keys().active().kid());
        assertThat(jwt.getHeader().toJSONObject().keySet()).containsExactlyInAnyOrder("alg", "typ", "kid");
        var claims = jwt.getJWTClaimsSet();
        assertThat(claims.getClaims().keySet()).containsExactlyInAnyOrder("iss", "sub", "aud", "jti", "task_id",
                "scope", "iat", "nbf", "exp");
        assertThat(claims.getIssuer()).isEqualTo("spiffe://test.tollgate/tollgate/control-plane");
        assertThat(claims.getSubject()).isEqualTo(AGENT.toString());
        assertThat(claims.getAudience()).containsExactly(AGENT.toString());
        assertThat(claims.getJWTID()).isEqualTo(created.tokenId());
        assertThat(claims.getStringClaim("task_id")).isEqualTo(created.task().id());
        assertThat(claims.getIssueTime()).isEqualTo(claims.getNotBeforeTime());
        assertThat(Duration.between(claims.getIssueTime().toInstant(), claims.getExpirationTime().toInstant()))
                .isEqualTo(Duration.ofSeconds(300));
        assertThat(created.task().expiresAt()).isEqualTo(claims.getExpirationTime().toInstant());

        VerificationResult r = verifyTask(created.token(), AGENT);
        assertThat(r).isInstanceOfSatisfying(VerifiedToken.class, t -> {
            assertThat(t.taskId()).isEqualTo(created.task().id());
            assertThat(t.scope().tools()).isEqualTo(scope);
        });
        assertThat(verifyTask(created.token(), OTHER)).isInstanceOf(TokenRejection.class);
    }

    @Test
    void taskIsShownListedAndCompletedOnceAndCompletionPublishesATaskRevocation() {
        TaskCreatedView created = task(admin, AGENT, 300, "crm.read");
        String id = created.task().id();
        assertThat(admin.task(id).state()).isEqualTo("active");
        assertThat(admin.tasks(AGENT, "active", 10)).extracting(TaskView::id).containsExactly(id);
        assertThat(admin.tasks(OTHER, null, 10)).isEmpty();

        TaskView done = admin.completeTask(id);
        assertThat(done.state()).isEqualTo("completed");
        assertThat(done.endedAt()).isNotNull();
        assertThat(published.of(WatchEvent.REVOCATION)).anySatisfy(p -> {
            RevocationEvent e = (RevocationEvent) p;
            assertThat(e.type()).isEqualTo("task");
            assertThat(e.value()).isEqualTo(id);
            assertThat(e.expiresAt()).isAfterOrEqualTo(created.task().expiresAt());
        });
        assertProblem(() -> admin.completeTask(id), 409, "task_not_active");
        assertProblem(() -> admin.task("no-such-task"), 404, "task_not_found");
    }

    @Test
    void agentCreatesAndCompletesItsOwnTaskOverMtlsButNotAnotherAgents() {
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        TaskCreatedView mine = task(agent, AGENT, 120, "crm.read");
        assertThat(mine.task().createdBy()).isEqualTo(AGENT.toString());
        assertProblem(() -> task(agent, OTHER, 120, "crm.read"), 403, "not_own_task");
        TaskCreatedView theirs = task(admin, OTHER, 120, "crm.read");
        assertProblem(() -> agent.completeTask(theirs.task().id()), 403, "not_own_task");
        assertThat(agent.completeTask(mine.task().id()).state()).isEqualTo("completed");
    }

    @Test
    void taskTtlIsCappedAtTheAgentsRegistration() {
        TaskCreatedView created = task(admin, AGENT, 86_400, "crm.read");
        assertThat(Duration.between(created.task().createdAt(), created.task().expiresAt())).isEqualTo(Duration.ofSeconds(600));
        assertThat(Duration.between(clock.instant(), created.tokenExpiresAt())).isLessThanOrEqualTo(Duration.ofSeconds(600));
    }

    @Test
    void anAgentOverItsTaskQuotaIsRefusedUntilItsEarliestTaskExpires() {
        tcp.close();
        tcp = TestControlPlane.start(dir, null, clock, Map.of("tokens.max-live-tasks-per-agent", "2"), published);
        admin = tcp.admin();
        task(admin, AGENT, 60, "crm.read");
        TaskCreatedView later = task(admin, AGENT, 300, "crm.read");
        assertProblem(() -> task(admin, AGENT, 60, "crm.read"), 429, "task_quota_exceeded");
        admin.completeTask(later.task().id());
        assertProblem(() -> task(admin, AGENT, 60, "crm.read"), 429, "task_quota_exceeded");

        clock.advance(Duration.ofSeconds(89)); // a task counts until its TTL and the clock skew (30 s) have run out
        assertProblem(() -> task(admin, AGENT, 60, "crm.read"), 429, "task_quota_exceeded");
        clock.advance(Duration.ofSeconds(1)); // the first task's revocation has lapsed: one slot
        assertThat(task(admin, AGENT, 60, "crm.read").task().state()).isEqualTo("active");
        assertProblem(() -> task(admin, AGENT, 60, "crm.read"), 429, "task_quota_exceeded");
        assertThat(task(admin, OTHER, 60, "crm.read").task().state()).isEqualTo("active");
    }

    @Test
    void anAgentAskingFasterThanItsRateIsRefusedWith429AndOperatorsAreNot() {
        tcp.close();
        tcp = TestControlPlane.start(dir, null, clock, Map.of("tokens.agent-rate", "1", "tokens.agent-burst", "2"),
                published);
        admin = tcp.admin();
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        long started = System.nanoTime();
        int created = 0;
        int refused = 0;
        String token = null;
        for (int i = 0; i < 10; i++) {
            try {
                token = task(agent, AGENT, 300, "crm.read").token();
                created++;
            } catch (ControlPlaneException e) {
                assertThat(e.status()).isEqualTo(429);
                assertThat(e.reason()).isEqualTo("rate_limited");
                refused++;
            }
        }
        long seconds = (System.nanoTime() - started) / 1_000_000_000L + 1;
        assertThat(created).as("the burst, and one per second after it").isBetween(2, (int) (2 + seconds));
        assertThat(refused).isPositive();
        // operators are not limited
        for (int i = 0; i < 5; i++) {
            task(admin, AGENT, 300, "crm.read");
        }

        // exchanges draw on the same bucket; a refused one is not audited (that is what the limit bounds)
        String subject = token;
        int exchanged = 0;
        int limited = 0;
        for (int i = 0; i < 10; i++) {
            try {
                agent.exchangeToken(subject, CRM, null);
                exchanged++;
            } catch (ControlPlaneException e) {
                assertThat(e.status()).isEqualTo(429);
                assertThat(e.reason()).isEqualTo("rate_limited");
                limited++;
            }
        }
        assertThat(limited).isPositive();
        assertThat(admin.audit(new AuditFilter("token.exchanged", null, null, null, null, null), 0, 100))
                .hasSize(exchanged);
        // and a rate-limited request leaves no row at all, not even a refusal
        assertThat(admin.audit(0, 1000)).noneMatch(e -> "rate_limited".equals(e.result()));
        assertThat(tcp.cp.registry().get(dev.tollgate.controlplane.metrics.ControlPlaneMetrics.AGENT_RATE_REFUSALS)
                .tag("request", "token_exchange").counter().count()).isEqualTo(limited);
        assertThat(tcp.cp.registry().get(dev.tollgate.controlplane.metrics.ControlPlaneMetrics.AGENT_RATE_REFUSALS)
                .tag("request", "task_create").counter().count()).isEqualTo(refused);
    }

    @Test
    void aToolOutsideTheRegistrationIsRefusedWith403() {
        assertProblem(() -> task(admin, AGENT, 60, "crm.read", "payments.transfer"), 403, "tool_not_registered");
        assertProblem(() -> task(admin, AGENT, 60), 400, "invalid_scope");
        assertProblem(() -> admin.createTask(new TaskSpec(AGENT.toString(), List.of(new ToolGrant("crm.read",
                List.of(new ArgumentConstraint("/a", "x", null, "y", null)))), "intent", 60L)), 400, "invalid_scope");
    }

    @Test
    void taskTtlRunningOutEndsTheTaskAndPublishesATaskRevocation() {
        TaskCreatedView created = task(admin, AGENT, 30, "crm.read");
        clock.advance(Duration.ofSeconds(31));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(admin.task(created.task().id()).state()).isEqualTo("expired"));
        // the sweep ends the task, then stores and publishes its revocation, then audits: wait for the last
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(admin.audit(0, 1000))
                .anyMatch(e -> e.kind().equals("task.completed") && created.task().id().equals(e.taskId())));
        assertThat(published.of(WatchEvent.REVOCATION)).extracting(p -> ((RevocationEvent) p).value())
                .contains(created.task().id());
        assertThat(admin.audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.kind()).isEqualTo("task.completed");
            assertThat(e.result()).isEqualTo("expired");
            assertThat(e.taskId()).isEqualTo(created.task().id());
        });
    }

    @Test
    void exchangeIssuesAShortTokenBoundToTheToolWithANarrowedScope() {
        TestControlPlane.Joined joined = tcp.join(AGENT, null);
        ControlPlaneClient agent = tcp.as(joined);
        TaskCreatedView created = task(agent, AGENT, 300, "crm.read", "crm.search");

        TokenExchangeResponse r = agent.exchangeToken(created.token(), CRM, "crm.read");
        assertThat(r.tokenType()).isEqualTo("N_A");
        assertThat(r.issuedTokenType()).isEqualTo("urn:ietf:params:oauth:token-type:jwt");
        assertThat(r.expiresIn()).isBetween(1L, 60L);
        assertThat(r.scope()).isEqualTo("crm.read");
        TokenKeySet keys = servedKeys(agent);
        VerificationResult v = TokenVerifier.builder(ISSUER, TokenType.EXCHANGED, CRM.toString(), () -> keys)
                .clock(clock).build().verify(r.accessToken(), AGENT);
        assertThat(v).isInstanceOfSatisfying(VerifiedToken.class, t -> {
            assertThat(t.audience()).containsExactly(CRM.toString());
            assertThat(t.subject()).isEqualTo(AGENT);
            assertThat(t.taskId()).isEqualTo(created.task().id());
            assertThat(t.scope().toolNames()).containsExactly("crm.read");
            assertThat(Duration.between(t.issuedAt(), t.expiresAt())).isLessThanOrEqualTo(Duration.ofSeconds(60));
        });
        assertThat(agent.exchangeToken(created.token(), CRM, null).scope()).isEqualTo("crm.read crm.search");
        assertThat(admin.audit(0, 1000)).filteredOn(e -> e.kind().equals("token.exchanged") && e.result().equals("ok"))
                .extracting(AuditEventView::taskId).containsOnly(created.task().id()).hasSize(2);
    }

    @Test
    void anExchangedTokenNeverOutlivesItsTask() {
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        TaskCreatedView created = task(agent, AGENT, 20, "crm.read");
        clock.advance(Duration.ofSeconds(5));
        TokenExchangeResponse r = agent.exchangeToken(created.token(), CRM, null);
        assertThat(r.expiresIn()).isBetween(1L, 15L);
    }

    @Test
    void exchangeByAnotherWorkloadIsAnInvalidGrant() {
        TaskCreatedView created = task(admin, AGENT, 300, "crm.read");
        ControlPlaneClient other = tcp.as(tcp.join(OTHER, null));
        assertOAuthError(() -> other.exchangeToken(created.token(), CRM, null), "invalid_grant");
        ControlPlaneClient tool = tcp.as(tcp.join(CRM, null));
        assertOAuthError(() -> tool.exchangeToken(created.token(), CRM, null), "unauthorized_client");
    }

    @Test
    void aRefusedExchangeIsAuditedWithTheCallerAndWhoseTokenItWas() {
        TaskCreatedView created = task(admin, AGENT, 300, "crm.read");
        ControlPlaneClient other = tcp.as(tcp.join(OTHER, null));
        assertOAuthError(() -> other.exchangeToken(created.token(), CRM, null), "invalid_grant");
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        admin.revoke(new RevocationRequest("token", created.tokenId(), "leaked in a log"));
        assertOAuthError(() -> agent.exchangeToken(created.token(), CRM, null), "invalid_grant");

        List<AuditEventView> refused = admin.audit(new AuditFilter("token.exchanged", null, null, "invalid_grant",
                null, null), 0, 100);
        assertThat(refused).hasSize(2);
        AuditEventView stolen = refused.get(0);
        assertThat(stolen.actor()).isEqualTo(OTHER.toString());
        assertThat(stolen.taskId()).isEqualTo(created.task().id());
        assertThat(stolen.details()).containsEntry("sub", AGENT.toString());
        AuditEventView revoked = refused.get(1);
        assertThat(revoked.actor()).isEqualTo(AGENT.toString());
        assertThat(revoked.taskId()).isEqualTo(created.task().id());
        // both are found by the task and by the agent whose token it was; the thief's attempt also by the thief
        assertThat(admin.audit(new AuditFilter(null, created.task().id(), null, "invalid_grant", null, null), 0, 100))
                .containsExactlyElementsOf(refused);
        assertThat(admin.audit(new AuditFilter("token.exchanged", null, AGENT.toString(), "invalid_grant", null,
                null), 0, 100)).containsExactlyElementsOf(refused);
        assertThat(admin.audit(new AuditFilter("token.exchanged", null, OTHER.toString(), null, null, null), 0, 100))
                .containsExactly(stolen);
    }

    @Test
    void exchangeForAnUnregisteredAudienceIsAnInvalidTarget() {
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        TaskCreatedView created = task(agent, AGENT, 300, "crm.read");
        assertOAuthError(() -> agent.exchangeToken(created.token(), TestControlPlane.tool("unknown"), null), "invalid_target");
        assertOAuthError(() -> agent.exchangeToken(created.token(), OTHER, null), "invalid_target");
    }

    @Test
    void exchangeForAScopeBeyondTheTaskIsAnInvalidScope() {
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        TaskCreatedView created = task(agent, AGENT, 300, "crm.read");
        assertOAuthError(() -> agent.exchangeToken(created.token(), CRM, "crm.read mail.send"), "invalid_scope");
    }

    @Test
    void exchangeGrantsOnlyToolsTheAgentIsStillRegisteredFor() {
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        TaskCreatedView created = task(agent, AGENT, 300, "crm.read", "crm.search");
        assertThat(agent.exchangeToken(created.token(), CRM, null).scope()).isEqualTo("crm.read crm.search");

        // an operator takes crm.search away while the task runs
        admin.updateWorkload(AGENT, new WorkloadSpec(null, null, null, null, List.of("crm.read", "mail.send"), null,
                null));
        TokenExchangeResponse narrowed = agent.exchangeToken(created.token(), CRM, null);
        assertThat(narrowed.scope()).isEqualTo("crm.read");
        TokenKeySet keys = servedKeys(agent);
        assertThat(TokenVerifier.builder(ISSUER, TokenType.EXCHANGED, CRM.toString(), () -> keys).clock(clock).build()
                .verify(narrowed.accessToken(), AGENT)).isInstanceOfSatisfying(VerifiedToken.class,
                t -> assertThat(t.scope().toolNames()).containsExactly("crm.read"));
        assertOAuthError(() -> agent.exchangeToken(created.token(), CRM, "crm.search"), "invalid_scope");
        assertThat(agent.exchangeToken(created.token(), CRM, "crm.read").scope()).isEqualTo("crm.read");
        // a sidecar asks for every tool of the task behind the upstream: the others still get a token
        assertThat(agent.exchangeToken(created.token(), CRM, "crm.read crm.search").scope()).isEqualTo("crm.read");

        admin.updateWorkload(AGENT, new WorkloadSpec(null, null, null, null, List.of("mail.send"), null, null));
        assertOAuthError(() -> agent.exchangeToken(created.token(), CRM, null), "invalid_scope");
        assertThat(admin.audit(new AuditFilter("token.exchanged", created.task().id(), null, "invalid_scope", null,
                null), 0, 100)).hasSize(2);

        admin.deleteWorkload(AGENT); // its SVID is still valid, its task still active: no token either
        assertOAuthError(() -> agent.exchangeToken(created.token(), CRM, null), "invalid_grant");
    }

    @Test
    void exchangeOfAnExpiredRevokedOrForgedSubjectTokenIsAnInvalidGrant() {
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        TaskCreatedView revoked = task(agent, AGENT, 300, "crm.read");
        admin.revoke(new RevocationRequest("token", revoked.tokenId(), "leaked in a log"));
        assertOAuthError(() -> agent.exchangeToken(revoked.token(), CRM, null), "invalid_grant");
        assertOAuthError(() -> agent.exchangeToken(revoked.token() + "x", CRM, null), "invalid_grant");

        TaskCreatedView completed = task(agent, AGENT, 300, "crm.read");
        agent.completeTask(completed.task().id());
        assertOAuthError(() -> agent.exchangeToken(completed.token(), CRM, null), "invalid_grant");

        TaskCreatedView expiring = task(agent, AGENT, 20, "crm.read");
        clock.advance(Duration.ofSeconds(60));
        assertOAuthError(() -> agent.exchangeToken(expiring.token(), CRM, null), "invalid_grant");
    }

    @Test
    void revokingTwiceIsOneRevocationAndItSurvivesARestart() {
        TaskCreatedView created = task(admin, AGENT, 300, "crm.read");
        RevocationView first = admin.revoke(new RevocationRequest("token", created.tokenId(), "leaked"));
        RevocationView second = admin.revoke(new RevocationRequest("token", created.tokenId(), "leaked again"));
        assertThat(second).isEqualTo(first);
        assertThat(admin.revocations(100)).containsExactly(first);
        assertThat(first.expiresAt()).isAfterOrEqualTo(created.tokenExpiresAt());
        assertThat(published.of(WatchEvent.REVOCATION)).contains(
                new RevocationEvent("token", created.tokenId(), first.at(), first.expiresAt()));
        // each request is audited; the second says the revocation was in force already
        assertThat(admin.audit(0, 1000)).filteredOn(e -> e.kind().equals("credential.revoked"))
                .allSatisfy(e -> assertThat(e.taskId()).isEqualTo(created.task().id()))
                .extracting(e -> e.result()).containsExactly("ok", "already_revoked");

        tcp.close();
        tcp = TestControlPlane.start(dir, null, clock, Map.of(), published);
        admin = tcp.admin();
        assertThat(admin.revocations(100)).containsExactly(first);
        SnapshotSource revocations = tcp.cp.snapshotSources().stream()
                .filter(s -> s.kind().equals(WatchEvent.REVOCATION)).findFirst().orElseThrow();
        RevocationSet set = new RevocationSet(clock);
        @SuppressWarnings("unchecked")
        List<RevocationEvent> snapshot = (List<RevocationEvent>) revocations.snapshot();
        set.replaceAll(snapshot);
        VerificationResult v = verifyTask(created.token(), AGENT);
        assertThat(set.isRevoked((VerifiedToken) v)).isTrue();
    }

    @Test
    void revokingASpiffeIdStopsItsSvidRenewalsAndJoins() {
        TestControlPlane.Joined joined = tcp.join(AGENT, null);
        ControlPlaneClient agent = tcp.as(joined);
        String joinToken = admin.createJoinToken(AGENT, null).token();
        admin.revoke(new RevocationRequest("spiffe_id", AGENT.toString(), "host compromised"));
        assertProblem(() -> agent.renewSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), null, null)), 403,
                "identity_revoked");
        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), joinToken, null)),
                403, "identity_revoked");
        ControlPlaneClient other = tcp.as(tcp.join(OTHER, null));
        assertThat(other.renewSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), null, null)).spiffeId())
                .isEqualTo(OTHER.toString());
    }

    @Test
    void revokingASigningKeyRemovesItFromTheJwksAndDeniesItsTokens() {
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        TaskCreatedView created = task(agent, AGENT, 300, "crm.read");
        String kid = tcp.cp.tokens().keys().active().kid();
        TokenKeySet before = servedKeys(agent);

        RevocationView r = admin.revoke(new RevocationRequest("signing_key", kid, "key material exposed"));
        assertThat(r.expiresAt()).isAfterOrEqualTo(created.tokenExpiresAt());
        TokenKeySet after = servedKeys(agent);
        assertThat(after.kids()).doesNotContain(kid).hasSize(1);
        assertThat(published.of(WatchEvent.SIGNING_KEYS)).last().satisfies(jwks ->
                assertThat(TokenKeySet.fromJson(castMap(jwks)).kids()).isEqualTo(after.kids()));
        assertThat(admin.signingKeys()).anySatisfy(k -> {
            assertThat(k.kid()).isEqualTo(kid);
            assertThat(k.state()).isEqualTo("revoked");
            assertThat(k.published()).isFalse();
        });
        assertThat(verifyTask(created.token(), AGENT)).isInstanceOfSatisfying(TokenRejection.class,
                rej -> assertThat(rej.reason()).isEqualTo(TokenRejection.Reason.UNKNOWN_KEY_ID));
        // a sidecar still holding the old key set denies it by its revocation
        VerifiedToken stale = (VerifiedToken) TokenVerifier.builder(ISSUER, TokenType.TASK, AGENT.toString(), () -> before)
                .clock(clock).build().verify(created.token(), AGENT);
        RevocationSet set = new RevocationSet(clock);
        published.of(WatchEvent.REVOCATION).forEach(p -> set.apply((RevocationEvent) p));
        assertThat(set.isRevoked(stale)).isTrue();
        assertOAuthError(() -> agent.exchangeToken(created.token(), CRM, null), "invalid_grant");
        // new tasks are signed by the new key
        assertThat(verifyTask(task(agent, AGENT, 60, "crm.read").token(), AGENT)).isInstanceOf(VerifiedToken.class);
    }

    @Test
    void scheduledRotationKeepsThePreviousKeyPublishedUntilItsTokensExpire() {
        String first = tcp.cp.tokens().keys().active().kid();
        TaskCreatedView created = task(admin, AGENT, 600, "crm.read");
        clock.advance(Duration.ofMinutes(5).plusSeconds(1));
        tcp.cp.maintain();
        String second = tcp.cp.tokens().keys().active().kid();
        assertThat(second).isNotEqualTo(first);
        assertThat(servedKeys(admin).kids()).containsExactlyInAnyOrder(first, second);
        assertThat(published.of(WatchEvent.SIGNING_KEYS)).last().satisfies(jwks ->
                assertThat(TokenKeySet.fromJson(castMap(jwks)).kids()).containsExactlyInAnyOrder(first, second));
        assertThat(verifyTask(created.token(), AGENT)).isInstanceOf(VerifiedToken.class);
        assertThat(verifyTask(task(admin, AGENT, 60, "crm.read").token(), AGENT)).isInstanceOfSatisfying(
                VerifiedToken.class, t -> assertThat(t.kid()).isEqualTo(second));

        // past the last token of the first key (and the skew); by then the second key has rotated out too
        clock.set(created.tokenExpiresAt().plusSeconds(31));
        tcp.cp.maintain();
        assertThat(servedKeys(admin).kids()).doesNotContain(first).contains(tcp.cp.tokens().keys().active().kid());
        assertThat(TokenKeySet.fromJson(castMap(published.of(WatchEvent.SIGNING_KEYS).get(
                published.of(WatchEvent.SIGNING_KEYS).size() - 1))).kids()).doesNotContain(first);

        // the key's whole life is in the audit trail, by the system: created, rotated out, expired
        List<AuditEventView> life = admin.audit(new AuditFilter("signing_key.rotation", null, null, null, null, null),
                0, 100);
        assertThat(life).allSatisfy(e -> assertThat(e.actor()).isEqualTo("system"));
        assertThat(life).filteredOn(e -> e.subject().equals(first)).extracting(AuditEventView::action)
                .containsExactly("signing_key.create", "signing_key.expire");
        assertThat(life).filteredOn(e -> e.subject().equals(second)).first().satisfies(e -> {
            assertThat(e.action()).isEqualTo("signing_key.rotate");
            assertThat(e.details()).containsEntry("retired", first);
        });
        assertThat(admin.verifyAudit().intact()).isTrue();
    }

    @Test
    void aRetiredKeyStaysPublishedWhileAnyOfItsTokensIsValid() {
        String first = tcp.cp.tokens().keys().active().kid();
        task(admin, AGENT, 600, "crm.read");
        admin.rotateSigningKey();
        clock.advance(Duration.ofSeconds(599));
        tcp.cp.maintain();
        assertThat(servedKeys(admin).kids()).contains(first);
        clock.advance(Duration.ofSeconds(32));
        tcp.cp.maintain();
        assertThat(servedKeys(admin).kids()).doesNotContain(first).hasSize(1);
    }

    @Test
    void issuanceExchangeCompletionAndRevocationAreSeparateAuditEventsCorrelatedByTask() {
        ControlPlaneClient agent = tcp.as(tcp.join(AGENT, null));
        TaskCreatedView created = task(agent, AGENT, 300, "crm.read");
        agent.exchangeToken(created.token(), CRM, null);
        agent.completeTask(created.task().id());
        List<AuditEventView> events = admin.audit(0, 1000).stream()
                .filter(e -> created.task().id().equals(e.taskId())).toList();
        assertThat(events).extracting(AuditEventView::kind).containsExactly("task.created", "token.issued",
                "token.exchanged", "credential.revoked", "task.completed");
    }

    @Test
    void jwksIsPublicAndHoldsOnlyPublicKeys() {
        String jwks = tcp.anonymous().tokenJwks();
        assertThat(jwks).contains("\"kty\":\"EC\"", "\"crv\":\"P-256\"").doesNotContain("\"d\"");
        assertThat(TokenKeySet.parse(jwks).kids()).containsExactly(tcp.cp.tokens().keys().active().kid());
        assertThat(tcp.cp.snapshotSources()).extracting(SnapshotSource::kind)
                .containsExactlyInAnyOrder(WatchEvent.SIGNING_KEYS, WatchEvent.REVOCATION, WatchEvent.POLICY,
                        WatchEvent.AUDIT_CHECKPOINT_KEYS, WatchEvent.AUDIT_CHECKPOINT);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> castMap(Object o) {
        return (Map<String, Object>) o;
    }

    static void assertOAuthError(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String error) {
        org.assertj.core.api.Assertions.assertThatThrownBy(call).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).isEqualTo(400);
            assertThat(e.reason()).isEqualTo(error);
        });
    }
}
