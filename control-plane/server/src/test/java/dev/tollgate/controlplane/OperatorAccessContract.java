package dev.tollgate.controlplane;

import static dev.tollgate.controlplane.ControlPlaneApiContract.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.OperatorCredentialView;
import dev.tollgate.api.wire.Problem;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.api.Access;
import dev.tollgate.controlplane.api.ApiRoutes;
import dev.tollgate.controlplane.api.Route;

/**
 * Operator credentials end to end over real mTLS: the operator inventory (role, person, issuer, state), revoking an
 * operator by name or by SPIFFE ID and what a revoked operator or workload can still do (nothing on a protected
 * route, at once, on a connection kept alive too), and the operator TTL cap. Runs once per database.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
abstract class OperatorAccessContract {
    @TempDir
    Path dir;

    TestControlPlane tcp;

    abstract String databaseUrl();

    TestControlPlane start(Map<String, String> overrides) {
        tcp = TestControlPlane.start(dir.resolve("cp-" + System.nanoTime()), databaseUrl(), Clock.systemUTC(), overrides);
        return tcp;
    }

    @AfterEach
    void stop() {
        if (tcp != null) {
            tcp.close();
        }
    }

    @Test
    void revokedOperatorIsRefusedOnEveryProtectedRouteAtOnceEvenOnAConnectionKeptAlive() throws Exception {
        start(Map.of());
        Credential bob = issue(tcp, "bob", "admin", null);
        SpiffeId agent = TestControlPlane.agent("bobs-agent");
        try (KeptAlive conn = KeptAlive.open(tcp, bob)) {
            assertThat(conn.send("POST", "/v1/workloads", "{\"spiffeId\":\"" + agent + "\",\"humanOwner\":\"bob\","
                    + "\"serviceOwner\":\"s\",\"purpose\":\"p\",\"tools\":[\"crm.read\"]}").status).isEqualTo(201);

            var revoked = tcp.admin().revokeOperator("bob", "left the team");
            assertThat(revoked.value()).isEqualTo("spiffe://" + TestControlPlane.TRUST_DOMAIN + "/operator/bob");

            // the same TLS connection, the next request: refused
            Reply again = conn.send("POST", "/v1/workloads/agent/bobs-agent/join-tokens", "");
            assertThat(again.status).isEqualTo(403);
            assertThat(Json.mapper().readValue(again.body, Problem.class).reason()).isEqualTo("identity_revoked");
        }
        // every protected route, on new connections
        int checked = 0;
        for (Route r : routes()) {
            if (r.access() == Access.PUBLIC) {
                continue;
            }
            String path = r.template().replace("{kind}", "agent").replace("{name}", "bobs-agent").replace("{id}", "t1");
            HttpResponse<String> resp = ControlPlaneApiContract.rawBody(tcp, r.method(), path, bob.chain, bob.key,
                    r.method().equals("GET") || r.method().equals("DELETE") ? null : "{}", "application/json");
            assertThat(resp.statusCode()).as("%s %s", r.method(), path).isEqualTo(403);
            assertThat(resp.body()).as("%s %s", r.method(), path).contains("\"reason\":\"identity_revoked\"");
            checked++;
        }
        assertThat(checked).isGreaterThan(20);
        // nothing bob asked for after the revocation happened
        assertThat(tcp.admin().workloads()).extracting(w -> w.spiffeId()).containsExactly(agent.toString());
        assertThat(tcp.admin().audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.kind()).isEqualTo("credential.revoked");
            assertThat(e.subject()).isEqualTo(revokedId("bob"));
            assertThat(e.actor()).endsWith("/operator/" + ControlPlane.BOOTSTRAP_ADMIN);
        }).anySatisfy(e -> {
            assertThat(e.actor()).isEqualTo(revokedId("bob"));
            assertThat(e.result()).isEqualTo("identity_revoked");
        });
    }

    @Test
    void revokingAnOperatorsSpiffeIdWithTheGenericRevocationRefusesItToo() throws Exception {
        start(Map.of());
        Credential carol = issue(tcp, "carol", "operator", null);
        ControlPlaneClient asCarol = tcp.as(carol.chain, carol.key);
        asCarol.registerWorkload(new WorkloadSpec(TestControlPlane.agent("a1").toString(), "carol", "s", "p",
                List.of("t"), null, null));

        tcp.admin().revoke(new RevocationRequest("spiffe_id", revokedId("carol"), "laptop stolen"));

        assertProblem(() -> asCarol.createJoinToken(TestControlPlane.agent("a1"), null), 403, "identity_revoked");
        assertProblem(() -> asCarol.createTask(new TaskSpec(TestControlPlane.agent("a1").toString(),
                List.of(ToolGrant.of("t")), "intent", 300L)), 403, "identity_revoked");
        assertProblem(asCarol::workloads, 403, "identity_revoked");
        // and a new credential under the revoked name is not issued
        assertProblem(() -> issue(tcp, "carol", "viewer", null), 403, "identity_revoked");
    }

    @Test
    void anIdentityRevocationLastsUntilItsLongestLivedCertificateExpiresNotItsNewest() throws Exception {
        start(Map.of());
        Credential longLived = issue(tcp, "erin", "operator", 6L * 24 * 3600);
        issue(tcp, "erin", "operator", 300L); // newer, and shorter-lived
        var r = tcp.admin().revoke(new RevocationRequest("spiffe_id", revokedId("erin"), "laptop stolen"));
        assertThat(r.expiresAt()).isAfterOrEqualTo(longLived.chain().get(0).getNotAfter().toInstant());
    }

    @Test
    void revokedWorkloadIsRefusedOnEveryRouteItMayCall() throws Exception {
        start(Map.of());
        SpiffeId agent = TestControlPlane.agent("rogue");
        tcp.register(agent, "crm.read");
        TestControlPlane.Joined w = tcp.join(agent, null);
        ControlPlaneClient asAgent = tcp.as(w);
        asAgent.createTask(new TaskSpec(agent.toString(), List.of(ToolGrant.of("crm.read")), "work", 300L));

        tcp.admin().revoke(new RevocationRequest("spiffe_id", agent.toString(), "compromised"));

        for (Route r : routes()) {
            if (r.access() != Access.WORKLOAD && r.access() != Access.OPERATOR_OR_WORKLOAD) {
                continue;
            }
            String path = r.template().replaceAll("\\{[^}]+}", "t1");
            HttpResponse<String> resp = ControlPlaneApiContract.rawBody(tcp, r.method(), path, w.chain(),
                    w.keys().getPrivate(), r.method().equals("GET") ? null : "{}", "application/json");
            assertThat(resp.statusCode()).as("%s %s", r.method(), path).isEqualTo(403);
            assertThat(resp.body()).as("%s %s", r.method(), path).contains("identity_revoked");
        }
    }

    @Test
    void operatorInventoryRecordsRolePersonIssuerAndState() throws Exception {
        start(Map.of());
        Instant before = Instant.now().minusSeconds(1);
        issue(tcp, "dave", "viewer", null);
        issue(tcp, "erin", "operator", 3600L);

        List<OperatorCredentialView> ops = tcp.admin().operators(100);
        assertThat(ops).extracting(OperatorCredentialView::name)
                .containsExactly("erin", "dave", ControlPlane.BOOTSTRAP_ADMIN);
        OperatorCredentialView erin = ops.get(0);
        assertThat(erin.role()).isEqualTo("operator");
        assertThat(erin.person()).isEqualTo("erin@example.com");
        assertThat(erin.issuedBy()).isEqualTo("spiffe://" + TestControlPlane.TRUST_DOMAIN + "/operator/"
                + ControlPlane.BOOTSTRAP_ADMIN);
        assertThat(erin.state()).isEqualTo("active");
        assertThat(erin.issuedAt()).isAfter(before);
        assertThat(Duration.between(erin.issuedAt(), erin.notAfter())).isBetween(Duration.ofMinutes(59),
                Duration.ofMinutes(61));
        assertThat(tcp.admin().svids(SpiffeId.parse(erin.spiffeId()), 1)).singleElement()
                .satisfies(s -> assertThat(s.serial()).isEqualTo(erin.serial()));
        OperatorCredentialView bootstrap = ops.get(2);
        assertThat(bootstrap.role()).isEqualTo("admin");
        assertThat(bootstrap.issuedBy()).isEqualTo("system");
        assertThat(tcp.admin().audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.kind()).isEqualTo("operator.credential_issued");
            assertThat(e.subject()).isEqualTo(erin.spiffeId());
            assertThat(e.details()).containsEntry("person", "erin@example.com").containsEntry("role", "operator")
                    .containsEntry("serial", erin.serial());
        });

        tcp.admin().revokeOperator("dave", "rotated out");

        OperatorCredentialView dave = tcp.admin().operators(100).stream().filter(o -> o.name().equals("dave"))
                .findFirst().orElseThrow();
        assertThat(dave.state()).isEqualTo("revoked");
        assertThat(dave.revokedBy()).endsWith("/operator/" + ControlPlane.BOOTSTRAP_ADMIN);
        assertThat(dave.revokedAt()).isNotNull();
        assertProblem(() -> tcp.admin().revokeOperator("nobody", "typo"), 404, "operator_not_found");
        assertProblem(() -> tcp.admin().revokeOperator("dave", null), 400, "missing_field");
        assertProblem(() -> tcp.admin().issueOperatorCredential(new OperatorCredentialRequest("frank", "viewer", " ",
                Csrs.csrPem(Csrs.newP256()), null)), 400, "missing_field");
    }

    @Test
    void operatorTtlOverOperatorsMaxTtlIsRefusedWithTheCapAndOneWithinItIsHonoured() throws Exception {
        start(Map.of("operators.max-ttl", "1h"));
        assertProblem(() -> issue(tcp, "gina", "viewer", Duration.ofHours(8).toSeconds()), 400, "ttl_out_of_range");
        try {
            issue(tcp, "gina", "viewer", Duration.ofHours(8).toSeconds());
        } catch (dev.tollgate.api.client.ControlPlaneException e) {
            assertThat(e.problem().detail()).isEqualTo("ttl: 8h (expected: <= 1h, operators.max-ttl)");
        }
        assertThat(tcp.admin().operators(100)).extracting(OperatorCredentialView::name).doesNotContain("gina");
        tcp.close();

        start(Map.of()); // operators.max-ttl: 7d by default, above svid.max-ttl (1h)
        Instant asked = Instant.now();
        SvidResponse r = tcp.admin().issueOperatorCredential(new OperatorCredentialRequest("gina", "viewer",
                "gina@example.com", Csrs.csrPem(Csrs.newP256()), Duration.ofHours(8).toSeconds()));
        assertThat(Duration.between(asked, r.notAfter())).isBetween(Duration.ofHours(8).minusMinutes(1),
                Duration.ofHours(8).plusMinutes(1));
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    record Credential(List<X509Certificate> chain, PrivateKey key) {
    }

    static Credential issue(TestControlPlane tcp, String name, String role, Long ttlSeconds) {
        KeyPair kp = Csrs.newP256();
        SvidResponse r = tcp.admin().issueOperatorCredential(new OperatorCredentialRequest(name, role,
                name + "@example.com", Csrs.csrPem(kp), ttlSeconds));
        return new Credential(Pem.certificates(r.chainPem()), kp.getPrivate());
    }

    static String revokedId(String operator) {
        return "spiffe://" + TestControlPlane.TRUST_DOMAIN + "/operator/" + operator;
    }

    static List<Route> routes() {
        return TestControlPlane.routeTable(null, null);
    }

    record Reply(int status, byte[] body) {
    }

    /** One HTTP/1.1 connection over mTLS, kept alive across requests. */
    static final class KeptAlive implements AutoCloseable {
        private final SSLSocket socket;
        private final InputStream in;
        private final OutputStream out;

        private KeptAlive(SSLSocket socket) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        static KeptAlive open(TestControlPlane tcp, Credential c) throws Exception {
            javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("k", c.key, "p".toCharArray(), c.chain.toArray(new X509Certificate[0]));
            var kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "p".toCharArray());
            ssl.init(kmf.getKeyManagers(), new javax.net.ssl.TrustManager[] {new dev.tollgate.api.tls.SpiffeTrustManager(
                    () -> tcp.cp.ca().bundle().anchors(), tcp.cp.serverId()::equals)}, null);
            SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", tcp.cp.apiUri().getPort());
            s.setSoTimeout(20_000);
            s.startHandshake();
            return new KeptAlive(s);
        }

        Reply send(String method, String path, String body) throws IOException {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            String head = method + " " + path + " HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                    + "content-length: " + b.length + "\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            String status = line();
            int contentLength = 0;
            for (String h = line(); !h.isEmpty(); h = line()) {
                int colon = h.indexOf(':');
                if (h.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
                    contentLength = Integer.parseInt(h.substring(colon + 1).trim());
                }
            }
            byte[] content = in.readNBytes(contentLength);
            return new Reply(Integer.parseInt(status.split(" ")[1]), content);
        }

        private String line() throws IOException {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1 && c != '\n') {
                if (c != '\r') {
                    buf.write(c);
                }
            }
            if (c == -1 && buf.size() == 0) {
                throw new IOException("connection closed");
            }
            return buf.toString(StandardCharsets.US_ASCII);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
