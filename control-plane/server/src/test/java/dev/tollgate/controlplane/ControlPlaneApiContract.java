package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.api.Access;
import dev.tollgate.controlplane.api.Route;
import dev.tollgate.testing.TestPki;

/**
 * The operator and workload API end to end over real mTLS against a real control plane. Runs once per database
 * (see the subclasses): the acceptance of issuance, bad input and authorisation.
 */
abstract class ControlPlaneApiContract {
    @TempDir
    Path dir;

    TestControlPlane tcp;
    ControlPlaneClient admin;

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    @BeforeEach
    void startControlPlane() {
        tcp = TestControlPlane.start(dir, databaseUrl(), java.time.Clock.systemUTC(), Map.of());
        admin = tcp.admin();
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    @Test
    void issuedSvidFollowsEverySpiffeRuleAndPassesOpensslVerify() throws Exception {
        SpiffeId id = TestControlPlane.agent("research-bot");
        tcp.register(id, "crm.read");
        Instant before = Instant.now();
        TestControlPlane.Joined joined = tcp.join(id, 120L);
        SvidResponse svid = joined.svid();
        List<X509Certificate> chain = Pem.certificates(svid.chainPem());
        X509Certificate leaf = chain.get(0);
        List<X509Certificate> bundle = Pem.certificates(tcp.anonymous().bundlePem());

        // exactly one URI SAN, the registered ID; no other SANs
        assertThat(leaf.getSubjectAlternativeNames()).hasSize(1);
        assertThat(Svids.spiffeId(leaf)).isEqualTo(id);
        // leaf is not a CA
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        X509CertificateHolder h = new X509CertificateHolder(leaf.getEncoded());
        assertThat(h.getExtension(Extension.basicConstraints).isCritical()).isTrue();
        assertThat(BasicConstraints.getInstance(h.getExtension(Extension.basicConstraints).getParsedValue()).isCA()).isFalse();
        // key usage critical, digitalSignature only
        assertThat(h.getExtension(Extension.keyUsage).isCritical()).isTrue();
        assertThat(leaf.getKeyUsage()).containsExactly(true, false, false, false, false, false, false, false, false);
        // EKU serverAuth + clientAuth
        assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        // NotBefore backdated, lifetime as asked and within the issuer's
        assertThat(leaf.getNotBefore().toInstant()).isBefore(before.minusSeconds(1));
        assertThat(Duration.between(Instant.now(), leaf.getNotAfter().toInstant())).isBetween(Duration.ofSeconds(100), Duration.ofSeconds(121));
        X509Certificate issuer = chain.size() > 1 ? chain.get(1) : bundle.get(0);
        assertThat(leaf.getNotAfter()).isBeforeOrEqualTo(issuer.getNotAfter());
        assertThat(leaf.getPublicKey()).isEqualTo(joined.keys().getPublic());
        // the bundle from the response and the served bundle agree
        assertThat(Pem.certificates(svid.bundlePem())).containsExactlyInAnyOrderElementsOf(bundle);

        Path bundleFile = dir.resolve("bundle.pem");
        Path leafFile = dir.resolve("leaf.pem");
        Path untrusted = dir.resolve("chain.pem");
        Files.writeString(bundleFile, Pem.encodeCertificates(bundle));
        Files.writeString(leafFile, Pem.encode(leaf));
        List<String> cmd = new ArrayList<>(List.of("openssl", "verify", "-CAfile", bundleFile.toString()));
        if (chain.size() > 1) {
            Files.writeString(untrusted, Pem.encodeCertificates(chain.subList(1, chain.size())));
            cmd.addAll(List.of("-untrusted", untrusted.toString()));
        }
        cmd.add(leafFile.toString());
        org.junit.jupiter.api.Assumptions.assumeTrue(onPath("openssl"), "openssl is not installed; .ci/run installs it");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(output).contains(leafFile + ": OK");
        assertThat(p.exitValue()).isZero();
    }

    @Test
    void issuanceIsRecordedWithSerialKeyAndIssuer() {
        SpiffeId id = TestControlPlane.agent("recorded");
        tcp.register(id);
        SvidResponse svid = tcp.join(id, null).svid();
        var records = admin.svids(id, 10);
        assertThat(records).hasSize(1);
        var r = records.get(0);
        X509Certificate leaf = Pem.certificates(svid.chainPem()).get(0);
        assertThat(r.serial()).isEqualTo(svid.serial());
        assertThat(r.publicKeyFingerprint()).isEqualTo(Svids.fingerprint(leaf.getPublicKey()));
        assertThat(r.keyAlgorithm()).isEqualTo("EC");
        assertThat(r.keyBits()).isEqualTo(256);
        assertThat(r.kind()).isEqualTo("join");
        assertThat(r.caId()).isNotBlank();
        assertThat(r.notAfter()).isEqualTo(leaf.getNotAfter().toInstant());
    }

    @Test
    void certificateInventoryListsEveryCertificateWithItsOwners() {
        SpiffeId id = TestControlPlane.agent("owned");
        tcp.register(id);
        tcp.join(id, null);
        assertThat(admin.svids(id, 10)).singleElement().satisfies(s -> {
            assertThat(s.humanOwner()).isEqualTo("alice@example.com");
            assertThat(s.serviceOwner()).isEqualTo("team-agents");
        });
        admin.updateWorkload(id, new WorkloadSpec(id.toString(), "carol@example.com", "team-research", "p", List.of(),
                null, null));
        assertThat(admin.svids(id, 10)).singleElement().satisfies(s -> {
            assertThat(s.humanOwner()).isEqualTo("carol@example.com");
            assertThat(s.serviceOwner()).isEqualTo("team-research");
        });
        operator("owner-check", "viewer");
        assertThat(admin.svids(SpiffeId.parse("spiffe://" + TestControlPlane.TRUST_DOMAIN + "/operator/owner-check"), 10))
                .singleElement().satisfies(s -> assertThat(s.humanOwner()).isEqualTo("owner-check@example.com"));
    }

    @Test
    void csrAskingForAnotherSanAndCaGetsOnlyTheRegisteredIdentity() throws Exception {
        SpiffeId id = TestControlPlane.agent("modest");
        tcp.register(id);
        KeyPair kp = Csrs.newP256();
        Extensions asked = new Extensions(new Extension[] {
                new Extension(Extension.subjectAlternativeName, false, new DEROctetString(new GeneralNames(new GeneralName[] {
                        new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + TestControlPlane.TRUST_DOMAIN + "/agent/admin"),
                        new GeneralName(GeneralName.dNSName, "evil.example")}))),
                new Extension(Extension.basicConstraints, true, new DEROctetString(new BasicConstraints(true)))});
        var csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=admin"), kp.getPublic())
                .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, asked)
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));
        String token = admin.createJoinToken(id, null).token();
        SvidResponse svid = tcp.anonymous().joinSvid(new SvidRequest(Pem.encode(csr), token, null));
        X509Certificate leaf = Pem.certificates(svid.chainPem()).get(0);
        assertThat(Svids.spiffeId(leaf)).isEqualTo(id);
        assertThat(leaf.getSubjectAlternativeNames()).hasSize(1);
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
    }

    @Test
    void garbageCsrIsRefusedWith400() {
        SpiffeId id = TestControlPlane.agent("garbage");
        tcp.register(id);
        String token = admin.createJoinToken(id, null).token();
        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", token, null)),
                400, "bad_csr:");
        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest("not pem at all", token, null)), 400, "bad_csr:");
    }

    @Test
    void badCsrDoesNotBurnTheJoinToken() {
        SpiffeId id = TestControlPlane.agent("retry");
        tcp.register(id);
        String token = admin.createJoinToken(id, null).token();
        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest("garbage", token, null)), 400, "bad_csr:");
        KeyPair kp = Csrs.newP256();
        assertThat(tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(kp), token, null)).spiffeId()).isEqualTo(id.toString());
    }

    @Test
    void oversizedCsrIsRefusedWith400Or413() {
        SpiffeId id = TestControlPlane.agent("big");
        tcp.register(id);
        String token = admin.createJoinToken(id, null).token();
        String huge = "-----BEGIN CERTIFICATE REQUEST-----\n" + "QUFB\n".repeat(10_000) + "-----END CERTIFICATE REQUEST-----\n";
        assertThatThrownBy(() -> tcp.anonymous().joinSvid(new SvidRequest(huge, token, null)))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> assertThat(e.status()).isIn(400, 413));
    }

    @Test
    void deeplyNestedAsn1CsrIsRefusedWith400() {
        SpiffeId id = TestControlPlane.agent("bomb");
        tcp.register(id);
        String token = admin.createJoinToken(id, null).token();
        ASN1Encodable nested = new DERSequence();
        for (int i = 0; i < 2000; i++) {
            nested = new DERSequence(nested);
        }
        String pem;
        try {
            pem = "-----BEGIN CERTIFICATE REQUEST-----\n"
                    + java.util.Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(((ASN1Sequence) nested).getEncoded())
                    + "\n-----END CERTIFICATE REQUEST-----\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest(pem, token, null)), 400, "bad_csr:");
    }

    @Test
    void reusedJoinTokenIsRefusedWith401AndAudited() {
        SpiffeId id = TestControlPlane.agent("once");
        tcp.register(id);
        String token = admin.createJoinToken(id, null).token();
        tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), token, null));
        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), token, null)),
                401, "join_token_used");
        List<AuditEventView> events = admin.audit(0, 1000);
        assertThat(events).anySatisfy(e -> {
            assertThat(e.kind()).isEqualTo("join_token.refused");
            assertThat(e.result()).isEqualTo("already_used");
            assertThat(e.subject()).isEqualTo(id.toString());
        });
        assertThat(admin.verifyAudit().intact()).isTrue();
    }

    @Test
    void unknownJoinTokenIsRefusedWith401AndAudited() {
        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), "tgjt_nope", null)),
                401, "join_token_invalid");
        assertThat(admin.audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.kind()).isEqualTo("join_token.refused");
            assertThat(e.result()).isEqualTo("unknown");
        });
    }

    @Test
    void unknownWorkloadIs404() {
        assertProblem(() -> admin.workload(TestControlPlane.agent("ghost")), 404, "workload_not_found");
        assertProblem(() -> admin.createJoinToken(TestControlPlane.agent("ghost"), null), 404, "workload_not_found");
        assertProblem(() -> admin.deleteWorkload(TestControlPlane.agent("ghost")), 404, "workload_not_found");
    }

    @Test
    void eachMalformedSpiffeIdIs400NamingTheRule() {
        Map<String, String> cases = Map.of(
                "http://test.tollgate/agent/a", "scheme",
                "spiffe://Test.tollgate/agent/a", "trust_domain_case",
                "spiffe://test.tollgate:443/agent/a", "port",
                "spiffe://u@test.tollgate/agent/a", "userinfo",
                "spiffe://test.tollgate/agent/a?q", "query",
                "spiffe://test.tollgate/agent/a#f", "fragment",
                "spiffe://test.tollgate/agent//a", "empty_segment",
                "spiffe://test.tollgate/agent/../a", "dot_segment",
                "spiffe://test.tollgate/agent/%61", "percent_encoding");
        cases.forEach((bad, rule) -> assertProblem(() -> admin.registerWorkload(new WorkloadSpec(bad, "o", "s", "p",
                List.of(), null, null)), 400, "invalid_spiffe_id:" + rule));
    }

    @Test
    void workloadLifecycleRoundTrips() {
        SpiffeId id = TestControlPlane.tool("search");
        var w = admin.registerWorkload(new WorkloadSpec(id.toString(), "bob@example.com", "team-search", "web search",
                List.of("search.query"), 600L, 300L));
        assertThat(w.maxSvidTtlSeconds()).isEqualTo(600);
        assertProblem(() -> admin.registerWorkload(new WorkloadSpec(id.toString(), "x", "y", "z", List.of(), null, null)),
                409, "workload_exists");
        var updated = admin.updateWorkload(id, new WorkloadSpec(null, "carol@example.com", "team-search", "web search v2",
                List.of("search.query", "search.fetch"), 600L, 300L));
        assertThat(updated.humanOwner()).isEqualTo("carol@example.com");
        assertThat(admin.workload(id).tools()).containsExactly("search.query", "search.fetch");
        assertThat(admin.workloads()).extracting(v -> v.spiffeId()).contains(id.toString());
        admin.deleteWorkload(id);
        assertProblem(() -> admin.workload(id), 404, "workload_not_found");
    }

    @Test
    void renewalOverMtlsIssuesANewSerialAndStopsAfterDeletion() {
        SpiffeId id = TestControlPlane.agent("renewer");
        tcp.register(id);
        TestControlPlane.Joined joined = tcp.join(id, null);
        ControlPlaneClient asWorkload = tcp.as(joined.chain(), joined.keys().getPrivate());
        KeyPair next = Csrs.newP256();
        SvidResponse renewed = asWorkload.renewSvid(new SvidRequest(Csrs.csrPem(next), null, null));
        assertThat(renewed.serial()).isNotEqualTo(joined.svid().serial());
        assertThat(Pem.certificates(renewed.chainPem()).get(0).getPublicKey()).isEqualTo(next.getPublic());
        assertThat(admin.svids(id, 10)).extracting(s -> s.kind()).containsExactly("renewal", "join");
        admin.deleteWorkload(id);
        assertProblem(() -> asWorkload.renewSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), null, null)),
                403, "workload_not_registered");

        // Registered again under the same ID: the decommissioned instance's SVID, still valid, renews nothing (more
        // than the second of clock leeway the comparison allows after it was issued)
        await().pollDelay(java.time.Duration.ofMillis(1100)).until(() -> true);
        tcp.register(id);
        assertProblem(() -> asWorkload.renewSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), null, null)),
                403, "svid_predates_registration");
        ControlPlaneClient renewedClient = tcp.as(Pem.certificates(renewed.chainPem()), next.getPrivate());
        assertProblem(() -> renewedClient.renewSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), null, null)),
                403, "svid_predates_registration");
        // an SVID issued under the new registration renews
        TestControlPlane.Joined rejoined = tcp.join(id, null);
        assertThat(tcp.as(rejoined.chain(), rejoined.keys().getPrivate())
                .renewSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), null, null)).serial())
                .isNotEqualTo(rejoined.svid().serial());
    }

    @Test
    void everyProtectedRouteRefusesMissingUntrustedAndWeakCredentials() throws Exception {
        SpiffeId agent = TestControlPlane.agent("matrix");
        tcp.register(agent);
        TestControlPlane.Joined workload = tcp.join(agent, null);
        Credential viewer = operator("viewer-1", "viewer");
        Credential operator = operator("operator-1", "operator");
        TestPki foreign = TestPki.create(TestControlPlane.TRUST_DOMAIN);
        TestPki.Issued forged = foreign.svid("operator/mallory");

        List<Route> routes = TestControlPlane.routeTable(tcp.cp.store(), tcp.cp.ca());
        int checked = 0;
        for (Route r : routes) {
            if (r.access() == Access.PUBLIC) {
                continue;
            }
            String path = r.template().replace("{kind}", "agent").replace("{name}", "matrix").replace("{id}", "t1");
            assertThat(raw(r.method(), path, null, null).statusCode()).as("no cert: %s %s", r.method(), path).isEqualTo(401);
            assertThat(raw(r.method(), path, List.of(forged.cert()), forged.key()).statusCode())
                    .as("untrusted cert: %s %s", r.method(), path).isEqualTo(401);
            if (r.access() == Access.OPERATOR_OR_WORKLOAD) {
                assertThat(raw(r.method(), path, viewer.chain, viewer.key).statusCode())
                        .as("viewer: %s %s", r.method(), path).isEqualTo(403);
            } else if (r.access() == Access.WORKLOAD) {
                assertThat(raw(r.method(), path, viewer.chain, viewer.key).statusCode()).as("operator on workload route").isEqualTo(403);
            } else {
                assertThat(raw(r.method(), path, workload.chain(), workload.keys().getPrivate()).statusCode())
                        .as("workload on operator route: %s %s", r.method(), path).isEqualTo(403);
                if (r.access() != Access.VIEWER) {
                    assertThat(raw(r.method(), path, viewer.chain, viewer.key).statusCode())
                            .as("viewer: %s %s", r.method(), path).isEqualTo(403);
                }
                if (r.access() == Access.ADMIN) {
                    assertThat(raw(r.method(), path, operator.chain, operator.key).statusCode())
                            .as("operator: %s %s", r.method(), path).isEqualTo(403);
                }
            }
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(12);
        assertThat(admin.audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.kind()).isEqualTo("operator.action");
            assertThat(e.result()).isEqualTo("insufficient_role");
        });
    }

    @Test
    void operatorCredentialCarriesItsRole() {
        Credential viewer = operator("reader", "viewer");
        ControlPlaneClient asViewer = tcp.as(viewer.chain, viewer.key);
        assertThat(asViewer.workloads()).isNotNull();
        assertProblem(() -> asViewer.registerWorkload(new WorkloadSpec(TestControlPlane.agent("x").toString(), "o", "s", "p",
                List.of(), null, null)), 403, "insufficient_role");
    }

    @Test
    void metricsShowIssuancesCaExpiryAndApiLatency() throws Exception {
        SpiffeId id = TestControlPlane.agent("metered");
        tcp.register(id);
        tcp.join(id, null);
        var a = tcp.cp.adminAddress();
        HttpResponse<String> m = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + a.getPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(m.statusCode()).isEqualTo(200);
        assertThat(m.body())
                .contains("tollgate_cp_svid_issuances_total{kind=\"join\",result=\"ok\"} 1.0")
                .contains("tollgate_cp_ca_expiry_seconds ")
                .contains("tollgate_cp_api_requests_seconds_count{method=\"POST\",route=\"/v1/svid/join\",status=\"200\"} 1");
        HttpResponse<String> ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + a.getPort() + "/readyz")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(200);
    }

    @Test
    void problemDocumentsFollowRfc9457() throws Exception {
        HttpResponse<String> r = raw("GET", "/v1/workloads", null, null);
        assertThat(r.statusCode()).isEqualTo(401);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/problem+json");
        assertThat(r.body()).contains("\"type\":\"urn:tollgate:problem:no_client_certificate\"", "\"status\":401", "\"title\"");
        assertThat(raw("GET", "/v1/nothing", null, null).statusCode()).isEqualTo(404);
        assertThat(raw("PATCH", "/v1/workloads", null, null).statusCode()).isEqualTo(405);
    }

    @Test
    void bodyOverTheLimitIsAnRfc9457ProblemWhetherDeclaredOrStreamed() throws Exception {
        String big = "{\"purpose\":\"" + "x".repeat(70 * 1024) + "\"}";
        HttpResponse<String> declared = rawBody("POST", "/v1/workloads", null, null, big);
        assertThat(declared.statusCode()).isEqualTo(413);
        assertThat(declared.headers().firstValue("content-type")).hasValue("application/problem+json");
        assertThat(declared.body()).contains("\"reason\":\"body_too_large\"", "\"status\":413",
                "api.max-body-bytes");

        byte[] bytes = big.getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> streamed = rawStream("/v1/workloads", bytes);
        assertThat(streamed.statusCode()).isEqualTo(413);
        assertThat(streamed.body()).contains("body_too_large");
    }

    @Test
    void aClientStillSendingAnOversizedBodyReadsThe413InsteadOfABrokenPipe() throws Exception {
        // larger than the socket buffers between client and server: closing at once would reset the upload
        String big = "{\"purpose\":\"" + "x".repeat(600 * 1024) + "\"}";
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> declared = rawBody("POST", "/v1/workloads", null, null, big);
            assertThat(declared.statusCode()).isEqualTo(413);
            assertThat(declared.body()).contains("body_too_large");
            HttpResponse<String> streamed = rawStream("/v1/workloads", big.getBytes(StandardCharsets.UTF_8));
            assertThat(streamed.statusCode()).isEqualTo(413);
        }
    }

    /** A POST whose body is sent chunked (no content-length), as the bootstrap admin. */
    HttpResponse<String> rawStream(String path, byte[] body) throws Exception {
        List<X509Certificate> chain = Pem.certificates(Files.readString(tcp.cp.operatorDir().resolve(ControlPlane.ADMIN_CERT_FILE)));
        java.security.PrivateKey key = Pem.privateKey(Files.readString(tcp.cp.operatorDir().resolve(ControlPlane.ADMIN_KEY_FILE)));
        javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("k", key, "p".toCharArray(), chain.toArray(new X509Certificate[0]));
        var kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "p".toCharArray());
        ssl.init(kmf.getKeyManagers(), new javax.net.ssl.TrustManager[] {new dev.tollgate.api.tls.SpiffeTrustManager(
                () -> tcp.cp.ca().bundle().anchors(), tcp.cp.serverId()::equals)}, null);
        HttpClient c = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest req = HttpRequest.newBuilder(tcp.cp.apiUri().resolve(path)).timeout(Duration.ofSeconds(20))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(body))).build();
        return c.send(req, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void unknownAndDuplicateJsonFieldsAreRefused() throws Exception {
        Credential op = operator("strict", "operator");
        String dup = "{\"spiffeId\":\"spiffe://test.tollgate/agent/a\",\"spiffeId\":\"spiffe://test.tollgate/agent/b\","
                + "\"humanOwner\":\"o\",\"serviceOwner\":\"s\",\"purpose\":\"p\"}";
        HttpResponse<String> r = rawBody("POST", "/v1/workloads", op.chain, op.key, dup);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("malformed_json");
        String unknown = "{\"spiffeId\":\"spiffe://test.tollgate/agent/a\",\"humanOwner\":\"o\",\"serviceOwner\":\"s\","
                + "\"purpose\":\"p\",\"admin\":true}";
        assertThat(rawBody("POST", "/v1/workloads", op.chain, op.key, unknown).body()).contains("unknown_field");
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    record Credential(List<X509Certificate> chain, java.security.PrivateKey key) {
    }

    Credential operator(String name, String role) {
        KeyPair kp = Csrs.newP256();
        SvidResponse r = admin.issueOperatorCredential(new OperatorCredentialRequest(name, role, name + "@example.com", Csrs.csrPem(kp), null));
        return new Credential(Pem.certificates(r.chainPem()), kp.getPrivate());
    }

    HttpResponse<String> raw(String method, String path, List<X509Certificate> chain, java.security.PrivateKey key)
            throws Exception {
        return rawBody(method, path, chain, key, method.equals("GET") || method.equals("DELETE") ? null : "{}");
    }

    HttpResponse<String> rawBody(String method, String path, List<X509Certificate> chain, java.security.PrivateKey key,
                                 String body) throws Exception {
        return rawBody(tcp, method, path, chain, key, body, "application/json");
    }

    /** A request to the control plane's API with any body and content type, as the given credential (or none). */
    static HttpResponse<String> rawBody(TestControlPlane tcp, String method, String path, List<X509Certificate> chain,
                                        java.security.PrivateKey key, String body, String contentType)
            throws Exception {
        javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
        javax.net.ssl.KeyManager[] kms = null;
        if (chain != null) {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("k", key, "p".toCharArray(), chain.toArray(new X509Certificate[0]));
            var kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "p".toCharArray());
            kms = kmf.getKeyManagers();
        }
        ssl.init(kms, new javax.net.ssl.TrustManager[] {new dev.tollgate.api.tls.SpiffeTrustManager(
                () -> tcp.cp.ca().bundle().anchors(), tcp.cp.serverId()::equals)}, null);
        HttpClient c = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest.Builder b = HttpRequest.newBuilder(tcp.cp.apiUri().resolve(path)).timeout(Duration.ofSeconds(10));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("content-type", contentType);
        }
        return c.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static void assertProblem(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, int status, String reasonPrefix) {
        assertThatThrownBy(call).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).as(e.getMessage()).isEqualTo(status);
            assertThat(e.reason()).startsWith(reasonPrefix);
        });
    }

    static boolean onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, program))) {
                return true;
            }
        }
        return false;
    }
}
