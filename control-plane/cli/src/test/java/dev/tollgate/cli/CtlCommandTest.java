package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import picocli.CommandLine;

import dev.tollgate.api.wire.Json;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.controlplane.TestPolicies;

class CtlCommandTest {
    @TempDir
    Path dir;

    TestControlPlane tcp;
    String creds;

    @BeforeEach
    void start() {
        tcp = TestControlPlane.start(dir.resolve("cp"));
        creds = tcp.cp.operatorDir().toString();
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    record Result(int code, String out, String err) {
    }

    Result ctl(String... args) {
        List<String> all = new ArrayList<>(List.of("ctl"));
        all.addAll(List.of(args));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Tollgate.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(all.toArray(new String[0]));
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void workloadUpdateChangesOnlyTheOptionsGivenAndInventoryListsAndRevokesJoinTokens() {
        String agent = "spiffe://test.tollgate/agent/kept";
        assertThat(ctl("--credential-dir", creds, "workload", "register", agent, "--human-owner", "a@example.com",
                "--service-owner", "team", "--purpose", "p", "--tool", "crm.read", "--tool", "web.search",
                "--max-task-ttl", "30m").code()).isZero();
        Result updated = ctl("--credential-dir", creds, "--output", "json", "workload", "update", agent,
                "--human-owner", "dave@example.com");
        assertThat(updated.code()).as(updated.err()).isZero();
        JsonNode w = json(updated.out());
        assertThat(w.get("humanOwner").asText()).isEqualTo("dave@example.com");
        assertThat(w.get("tools")).hasSize(2);
        assertThat(w.get("maxTaskTtlSeconds").asLong()).isEqualTo(1800);
        Result nothing = ctl("--credential-dir", creds, "workload", "update", agent);
        assertThat(nothing.code()).isEqualTo(2);
        assertThat(nothing.err()).contains("nothing to update");

        assertThat(ctl("--credential-dir", creds, "join-token", "create", agent).code()).isZero();
        Result tokens = ctl("--credential-dir", creds, "--output", "json", "join-token", "list", "--workload", agent);
        String id = json(tokens.out()).get(0).get("id").asText();
        assertThat(ctl("--credential-dir", creds, "join-token", "revoke", id).out()).contains("revoked join token " + id);

        Result inv = ctl("--credential-dir", creds, "inventory", "list", "--workload", agent);
        assertThat(inv.code()).as(inv.err()).isZero();
        assertThat(inv.out()).contains("join_token", id, "revoked", "dave@example.com");
        Result all = ctl("--credential-dir", creds, "inventory", "list", "--kind", "ca,kek");
        assertThat(all.out()).contains("ca", "kek-", "(none)");
        Result bad = ctl("--credential-dir", creds, "inventory", "list", "--kind", "password");
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).contains("reason: unknown_asset_kind");
    }

    @Test
    void postureWritesAReadableReportAndExitsFourOnHighFindings() throws Exception {
        Result clean = ctl("--credential-dir", creds, "posture");
        assertThat(clean.code()).as(clean.err()).isZero(); // a fresh control plane: medium findings only (no owners)
        assertThat(clean.out()).contains("score", "no-owner", "(none)");

        String okAgent = "spiffe://test.tollgate/agent/posture-bot";
        assertThat(ctl("--credential-dir", creds, "workload", "register", okAgent, "--human-owner", "a@example.com",
                "--service-owner", "team|<pipes>", "--purpose", "p").code()).isZero();
        assertThat(ctl("--credential-dir", creds, "join-token", "create", okAgent).code()).isZero();
        assertThat(ctl("--credential-dir", creds, "revoke", "spiffe-id", okAgent, "--reason", "test").code()).isZero();

        Path md = dir.resolve("reports/posture.md");
        Result high = ctl("--credential-dir", creds, "posture", "--report", md.toString());
        assertThat(high.code()).isEqualTo(PostureCommand.EXIT_FINDINGS);
        String text = Files.readString(md);
        assertThat(text).startsWith("# Tollgate posture report").contains("**Score ", "## Revoked identity holds",
                "Why it matters:", "What to do:", "ctl join-token revoke", "team\\|&lt;pipes&gt;");
        Path html = dir.resolve("posture.html");
        assertThat(ctl("--credential-dir", creds, "posture", "--report", html.toString()).code())
                .isEqualTo(PostureCommand.EXIT_FINDINGS);
        assertThat(Files.readString(html)).startsWith("<!doctype html>").contains("<h2 class=\"high\">")
                .doesNotContain("<pipes>").contains("team|&lt;pipes&gt;");
        Result bad = ctl("--credential-dir", creds, "posture", "--report", dir.resolve("posture.txt").toString());
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("expected: a file name ending in .md or .html");
        JsonNode json = json(ctl("--credential-dir", creds, "--output", "json", "posture").out());
        assertThat(json.get("byRule").get("revoked-identity-join-token").asInt()).isEqualTo(1);
    }

    @Test
    void exceptionRequestPrintsItsIdAndAnApprovedPostureExceptionLetsPostureExitZero() throws Exception {
        String agent = "spiffe://test.tollgate/agent/legacy-bot";
        assertThat(ctl("--credential-dir", creds, "workload", "register", agent, "--human-owner", "a@example.com",
                "--service-owner", "team", "--purpose", "p").code()).isZero();
        assertThat(ctl("--credential-dir", creds, "join-token", "create", agent).code()).isZero();
        assertThat(ctl("--credential-dir", creds, "revoke", "spiffe-id", agent, "--reason", "test").code()).isZero();
        assertThat(ctl("--credential-dir", creds, "posture").code()).isEqualTo(PostureCommand.EXIT_FINDINGS);

        Result requested = ctl("--credential-dir", creds, "--output", "json", "exception", "request",
                "--workload", agent, "--waive", "posture:revoked-identity-join-token", "--justification",
                "token kept for the forensic replay", "--human-owner", "carol@example.com", "--expires", "7d",
                "--review-in", "3d");
        assertThat(requested.code()).as(requested.err()).isZero();
        JsonNode e = json(requested.out());
        String id = e.get("id").asText();
        assertThat(id).matches("exc-[0-9a-f]{16}");
        assertThat(e.get("state").asText()).isEqualTo("requested");
        Result self = ctl("--credential-dir", creds, "exception", "approve", id);
        assertThat(self.code()).isEqualTo(1);
        assertThat(self.err()).contains("reason: approver_is_requester");
        KeyPair kp = dev.tollgate.api.tls.Csrs.newP256();
        var cred = tcp.admin().issueOperatorCredential(new dev.tollgate.api.wire.OperatorCredentialRequest("dana",
                "admin", "dana@example.com", dev.tollgate.api.tls.Csrs.csrPem(kp), 3600L));
        tcp.as(dev.tollgate.api.tls.Pem.certificates(cred.chainPem()), kp.getPrivate()).approveException(id);

        Result posture = ctl("--credential-dir", creds, "posture");
        assertThat(posture.code()).as("the only high finding is acknowledged").isZero();
        assertThat(posture.out()).contains("ACKNOWLEDGED BY", "revoked-identity-join-token", id);
        Path md = dir.resolve("acknowledged.md");
        assertThat(ctl("--credential-dir", creds, "posture", "--report", md.toString()).code()).isZero();
        assertThat(Files.readString(md)).contains("acknowledged by exception " + id + "; not counted");
        Result list = ctl("--credential-dir", creds, "exception", "list", "--state", "active");
        assertThat(list.code()).as(list.err()).isZero();
        assertThat(list.out()).contains("STATE", "WAIVE", "WORKLOAD", "UPSTREAM", "EXPIRES", "REVIEW-BY", "OWNER",
                "USES", id, "active", "carol@example.com");
        assertThat(ctl("--credential-dir", creds, "exception", "show", id).out()).contains("approved by", "dana");
        Result revoked = ctl("--credential-dir", creds, "exception", "revoke", id, "--reason", "replay done");
        assertThat(revoked.out()).contains("exception " + id + " revoked");
        assertThat(ctl("--credential-dir", creds, "posture").code()).isEqualTo(PostureCommand.EXIT_FINDINGS);

        Result noExpiry = ctl("--credential-dir", creds, "exception", "request", "--workload", agent, "--waive",
                "no-task-token", "--justification", "j", "--human-owner", "carol@example.com");
        assertThat(noExpiry.code()).isEqualTo(2);
        assertThat(noExpiry.err()).contains("--expires");
        Result overCap = ctl("--credential-dir", creds, "exception", "request", "--workload", agent, "--waive",
                "no-task-token", "--justification", "j", "--human-owner", "carol@example.com", "--expires", "31d");
        assertThat(overCap.code()).isEqualTo(1);
        assertThat(overCap.err()).contains("reason: expiry_over_cap", "exceptions.max-duration");
    }

    @Test
    void createsListsAndCompletesATaskThenRevokesAndListsSigningKeys() {
        String agent = "spiffe://test.tollgate/agent/cli-bot";
        assertThat(ctl("--credential-dir", creds, "workload", "register", agent, "--human-owner", "a@example.com",
                "--service-owner", "team", "--purpose", "p", "--tool", "crm.read").code()).isZero();
        Result created = ctl("--credential-dir", creds, "--output", "json", "task", "create", agent, "--tool", "crm.read",
                "--intent", "look up a customer", "--ttl", "2m");
        assertThat(created.code()).as(created.err()).isZero();
        JsonNode task = json(created.out());
        String id = task.get("task").get("id").asText();
        assertThat(task.get("token").asText()).matches("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+");

        Result list = ctl("--credential-dir", creds, "task", "list", "--agent", agent);
        assertThat(list.out()).contains("ID", id, "active", "crm.read", "look up a customer");
        // task show lists the task's tokens (by jti, never the token)
        Result shown = ctl("--credential-dir", creds, "task", "show", id);
        assertThat(shown.out()).contains(id).contains("JTI").contains(task.get("tokenId").asText())
                .doesNotContain(task.get("token").asText());
        Result refused = ctl("--credential-dir", creds, "task", "create", agent, "--tool", "payments.send", "--intent", "x");
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("reason: tool_not_registered");

        String jti = task.get("tokenId").asText();
        assertThat(ctl("--credential-dir", creds, "revoke", "token", jti, "--reason", "leaked").out())
                .contains("revoked token " + jti);
        assertThat(ctl("--credential-dir", creds, "revoke", "token", jti, "--reason", "leaked").code()).isZero();
        assertThat(ctl("--credential-dir", creds, "task", "complete", id).out()).contains("completed " + id);
        Result revocations = ctl("--credential-dir", creds, "revocation", "list");
        assertThat(revocations.out()).contains("token", jti, "task", id, "leaked", "task completed");

        Result keys = ctl("--credential-dir", creds, "--output", "json", "signing-key", "list");
        String kid = json(keys.out()).get(0).get("kid").asText();
        assertThat(ctl("--credential-dir", creds, "signing-key", "rotate").out()).contains("is now active");
        assertThat(ctl("--credential-dir", creds, "signing-key", "revoke", kid, "--reason", "exposed").code()).isZero();
        assertThat(ctl("--credential-dir", creds, "signing-key", "list").out()).contains(kid, "revoked", "false");
        // a kid is base64url and may begin with '-': it is still a kid, not an unknown option (usage error 2)
        Result dashed = ctl("--credential-dir", creds, "signing-key", "revoke", "-QnotAKid", "--reason", "x");
        assertThat(dashed.code()).as(dashed.err()).isEqualTo(1);
        assertThat(dashed.err()).doesNotContain("Unknown option");
    }

    /**
     * An identifier that begins with a known short option's letter ("-h…", "-V…", "-o…") is an identifier: never help
     * or the version (exit 0 with nothing revoked, which a script reads as success), never "-o" with a value attached.
     */
    @Test
    void anIdentifierBeginningWithAShortOptionIsTakenAsTheIdentifier() {
        for (String id : List.of("-hAbcDef", "-VAbcDef", "-oAbcDef", "--helpAbc")) {
            for (List<String> command : List.of(List.of("signing-key", "revoke", id, "--reason", "x"),
                    List.of("revoke", "signing-key", id, "--reason", "x"), List.of("revoke", "token", id, "--reason", "x"),
                    List.of("task", "show", id), List.of("exception", "show", id))) {
                List<String> args = new ArrayList<>(List.of("--credential-dir", creds));
                args.addAll(command);
                Result r = ctl(args.toArray(String[]::new));
                // the control plane was asked about exactly this identifier, and it has none such
                assertThat(r.code()).as(command + ": " + r.out() + r.err()).isEqualTo(1);
                assertThat(r.err()).as(command.toString()).contains(id).doesNotContain("Usage:");
                assertThat(r.out()).as(command.toString()).doesNotContain("Usage:");
            }
        }
        // an option's value may begin with '-' too (an asset id is a kid); one that is exactly an option is missing
        String dashed = "spiffe://test.tollgate/agent/dashed";
        Result reg = ctl("--credential-dir", creds, "workload", "register", dashed, "--human-owner", "a@example.com",
                "--service-owner", "team-agents", "--purpose", "-hAbc nightly", "--tool", "crm.read");
        assertThat(reg.code()).as(reg.err()).isZero();
        assertThat(ctl("--credential-dir", creds, "--output", "json", "workload", "show", dashed).out())
                .contains("\"-hAbc nightly\"");
        Result missing = ctl("--credential-dir", creds, "revoke", "token", "jti-y", "--reason", "--output", "json");
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("Missing required parameter for option '--reason'");
        Result missingAtEnd = ctl("--credential-dir", creds, "revoke", "token", "jti-y", "--reason");
        assertThat(missingAtEnd.code()).isEqualTo(2);
        assertThat(missingAtEnd.err()).contains("Missing required parameter for option '--reason'");
        // exactly -h is still help
        Result help = ctl("--credential-dir", creds, "signing-key", "revoke", "-h");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("Usage:");
    }

    @Test
    void registersListsShowsAndDeletesAWorkload() {
        String id = "spiffe://test.tollgate/agent/research-bot";
        Result reg = ctl("--credential-dir", creds, "workload", "register", id, "--human-owner", "alice@example.com",
                "--service-owner", "team-agents", "--purpose", "research", "--tool", "crm.read", "--tool", "web.search",
                "--max-svid-ttl", "10m");
        assertThat(reg.code()).as(reg.err()).isZero();
        assertThat(reg.out()).contains("registered " + id);

        Result list = ctl("--credential-dir", creds, "workload", "list");
        assertThat(list.out()).contains("SPIFFE ID", id, "alice@example.com", "crm.read,web.search", "10m");

        Result show = ctl("--credential-dir", creds, "--output", "json", "workload", "show", id);
        assertThat(show.code()).isZero();
        assertThat(json(show.out()).get("tools").size()).isEqualTo(2);

        assertThat(ctl("--credential-dir", creds, "workload", "delete", id).code()).isZero();
        Result gone = ctl("--credential-dir", creds, "workload", "show", id);
        assertThat(gone.code()).isEqualTo(1);
        assertThat(gone.err()).contains("no workload " + id, "reason: workload_not_found", "hint:");
    }

    @Test
    void registersAWorkloadWithAKubernetesSelectorKeepsItOnUpdateAndRemovesItWithNoK8s() {
        String id = "spiffe://test.tollgate/agent/triage";
        Result reg = ctl("--credential-dir", creds, "workload", "register", id, "--human-owner", "alice@example.com",
                "--service-owner", "team-agents", "--purpose", "triage", "--k8s-namespace", "agents",
                "--k8s-service-account", "triage");
        assertThat(reg.code()).as(reg.err()).isZero();
        assertThat(ctl("--credential-dir", creds, "workload", "list").out()).contains("K8S", "*/agents/triage");
        Result show = ctl("--credential-dir", creds, "--output", "json", "workload", "show", id);
        JsonNode selector = json(show.out()).get("k8sSelectors").get(0);
        assertThat(selector.get("namespace").asText()).isEqualTo("agents");
        assertThat(selector.get("serviceAccount").asText()).isEqualTo("triage");
        assertThat(selector.has("cluster")).isFalse();

        assertThat(ctl("--credential-dir", creds, "workload", "update", id, "--human-owner", "bob@example.com",
                "--service-owner", "team-agents", "--purpose", "triage").code()).isZero();
        assertThat(ctl("--credential-dir", creds, "workload", "show", id).out()).contains("*/agents/triage");
        assertThat(ctl("--credential-dir", creds, "workload", "update", id, "--human-owner", "bob@example.com",
                "--service-owner", "team-agents", "--purpose", "triage", "--no-k8s").code()).isZero();
        assertThat(ctl("--credential-dir", creds, "workload", "show", id).out()).doesNotContain("agents/triage");

        Result unknownCluster = ctl("--credential-dir", creds, "workload", "update", id, "--human-owner", "b@x.org",
                "--service-owner", "t", "--purpose", "p", "--k8s-cluster", "prod", "--k8s-namespace", "agents",
                "--k8s-service-account", "triage");
        assertThat(unknownCluster.code()).isEqualTo(1);
        assertThat(unknownCluster.err()).contains("reason: unknown_k8s_cluster");
        Result half = ctl("--credential-dir", creds, "workload", "update", id, "--human-owner", "b@x.org",
                "--service-owner", "t", "--purpose", "p", "--k8s-namespace", "agents");
        assertThat(half.code()).isEqualTo(2);
        assertThat(half.err()).contains("give both");
        Result labels = ctl("--credential-dir", creds, "workload", "update", id, "--human-owner", "b@x.org",
                "--service-owner", "t", "--purpose", "p", "--k8s-namespace", "agents", "--k8s-service-account",
                "triage", "--k8s-pod-label", "app=triage");
        assertThat(labels.code()).isEqualTo(2);
        assertThat(labels.err()).contains("pod labels cannot be selectors");
    }

    @Test
    void createsAJoinTokenThatTheControlPlaneAccepts() {
        tcp.register(TestControlPlane.agent("joiner"));
        Result r = ctl("--credential-dir", creds, "join-token", "create", "spiffe://test.tollgate/agent/joiner", "--ttl", "5m");
        assertThat(r.code()).as(r.err()).isZero();
        String token = r.out().trim();
        assertThat(token).startsWith("tgjt_");
        var kp = dev.tollgate.api.tls.Csrs.newP256();
        var svid = tcp.anonymous().joinSvid(new dev.tollgate.api.wire.SvidRequest(dev.tollgate.api.tls.Csrs.csrPem(kp), token, null));
        assertThat(svid.spiffeId()).isEqualTo("spiffe://test.tollgate/agent/joiner");
        Result svids = ctl("--credential-dir", creds, "svid", "list", "--id", "spiffe://test.tollgate/agent/joiner");
        assertThat(svids.out()).contains(svid.serial(), "join", "EC-256");
    }

    @Test
    void showsBundleCaStatusAndRotates() {
        assertThat(ctl("--credential-dir", creds, "bundle", "show").out()).startsWith("-----BEGIN CERTIFICATE-----");
        JsonNode spiffe = json(ctl("--credential-dir", creds, "bundle", "show", "--spiffe").out());
        assertThat(spiffe.get("keys").get(0).get("use").asText()).isEqualTo("x509-svid");
        long before = spiffe.get("spiffe_sequence").asLong();
        assertThat(ctl("--credential-dir", creds, "ca", "status").out()).contains("active", "generated");
        Result rot = ctl("--credential-dir", creds, "ca", "rotate");
        assertThat(rot.code()).as(rot.err()).isZero();
        assertThat(rot.out()).contains("prepared CA");
        JsonNode status = json(ctl("--credential-dir", creds, "-o", "json", "ca", "status").out());
        assertThat(status.get("bundleSequence").asLong()).isGreaterThan(before);
        assertThat(status.get("slots").toString()).contains("\"prepared\"");
    }

    @Test
    void issuesAnOperatorCredentialWithAPrivateKeyFile() throws Exception {
        Path out = dir.resolve("viewer");
        Result r = ctl("--credential-dir", creds, "operator", "issue", "--name", "val", "--role", "viewer",
                "--person", "val@example.com", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.getPosixFilePermissions(out.resolve("admin.key")))
                .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        assertThat(ctl("--credential-dir", out.toString(), "workload", "list").code()).isZero();
        Result denied = ctl("--credential-dir", out.toString(), "ca", "rotate");
        assertThat(denied.code()).isEqualTo(1);
        assertThat(denied.err()).contains("insufficient_role", "role viewer");
    }

    @Test
    void auditListAndVerify() {
        tcp.register(TestControlPlane.agent("audited"));
        assertThat(ctl("--credential-dir", creds, "audit", "list").out()).contains("operator.action", "workload.register");
        Result v = ctl("--credential-dir", creds, "audit", "verify");
        assertThat(v.code()).isZero();
        assertThat(v.out()).contains("audit chain intact");
    }

    @Test
    void auditListFiltersOnTheServerAndShowsTheTask() {
        SpiffeId agent = TestControlPlane.agent("filtered");
        tcp.register(agent, "crm.read");
        String task = tcp.admin().createTask(new dev.tollgate.api.wire.TaskSpec(agent.toString(),
                java.util.List.of(dev.tollgate.api.token.ToolGrant.of("crm.read")), "read", 300L)).task().id();

        Result byTask = ctl("--credential-dir", creds, "audit", "list", "--task", task, "--since", "1h");
        assertThat(byTask.code()).isZero();
        assertThat(byTask.out()).contains("TASK", task, "task.created").doesNotContain("workload.register");
        Result byIdentity = ctl("--credential-dir", creds, "audit", "list", "--identity", agent.toString(),
                "--kind", "operator.action", "--outcome", "ok");
        assertThat(byIdentity.out()).contains("workload.register").doesNotContain("task.created");
        Result beforeAll = ctl("--credential-dir", creds, "audit", "list", "--kind", "operator.action", "--until",
                "2000-01-01T00:00:00Z");
        assertThat(beforeAll.code()).as(beforeAll.err()).isZero();
        assertThat(beforeAll.out()).contains("SEQ", "(none)").doesNotContain("operator.action");

        Result badSince = ctl("--credential-dir", creds, "audit", "list", "--since", "yesterday");
        assertThat(badSince.code()).isEqualTo(2);
        assertThat(badSince.err()).contains("--since: 'yesterday'");
        Result badIdentity = ctl("--credential-dir", creds, "audit", "list", "--identity", "agent/filtered");
        assertThat(badIdentity.code()).isEqualTo(1);
        assertThat(badIdentity.err()).contains("identity:", "invalid_parameter");
    }

    @Test
    void validatesDiffsUploadsShowsAndListsPolicyVersions() throws Exception {
        Path v1 = Files.writeString(dir.resolve("v1.yaml"), TestPolicies.v1());
        Path v2 = Files.writeString(dir.resolve("v2.yaml"), TestPolicies.v2());
        Path bad = Files.writeString(dir.resolve("bad.yaml"), TestPolicies.invalid());

        Result noneYet = ctl("--credential-dir", creds, "policy", "show");
        assertThat(noneYet.code()).isEqualTo(1);
        assertThat(noneYet.err()).contains("reason: no_policy").doesNotContain("hint: check the SPIFFE ID");

        Result valid = ctl("--credential-dir", creds, "policy", "validate", v1.toString());
        assertThat(valid.code()).as(valid.err()).isZero();
        assertThat(valid.out()).contains("valid: policy 2026-11-22.1 (sha256:");
        Result invalid = ctl("--credential-dir", creds, "policy", "validate", bad.toString());
        assertThat(invalid.code()).isEqualTo(1);
        assertThat(invalid.out()).contains("invalid:", "  - ", "colour");

        Result up = ctl("--credential-dir", creds, "policy", "upload", v1.toString());
        assertThat(up.code()).as(up.err()).isZero();
        assertThat(up.out()).contains("policy 2026-11-22.1 (sha256:", "is now current");
        assertThat(ctl("--credential-dir", creds, "policy", "upload", v1.toString()).out())
                .startsWith("unchanged: policy 2026-11-22.1");

        Result diff = ctl("--credential-dir", creds, "policy", "diff", v2.toString());
        assertThat(diff.code()).as(diff.err()).isZero();
        assertThat(diff.out()).contains("current: 2026-11-22.1", "post-rate");
        assertThat(ctl("--credential-dir", creds, "policy", "diff", v1.toString()).out())
                .contains("no changes: the file is the current policy");

        Result refused = ctl("--credential-dir", creds, "policy", "upload", bad.toString());
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("reason: invalid_policy", "  - ").contains("colour");

        Result second = ctl("--credential-dir", creds, "--output", "json", "policy", "upload", v2.toString());
        assertThat(second.code()).isZero();
        assertThat(json(second.out()).get("previousVersion").asText()).isEqualTo("2026-11-22.1");
        Result show = ctl("--credential-dir", creds, "policy", "show");
        assertThat(show.out()).startsWith("# policy 2026-11-22.2 (sha256:").contains(TestPolicies.v2());
        Result versions = ctl("--credential-dir", creds, "policy", "versions");
        assertThat(versions.out()).contains("ID", "VERSION", "CURRENT", "2026-11-22.2", "2026-11-22.1", "yes");
        JsonNode list = json(ctl("--credential-dir", creds, "--output", "json", "policy", "versions").out());
        assertThat(list).hasSize(2);
        assertThat(list.get(0).get("current").asBoolean()).isTrue();

        Result missing = ctl("--credential-dir", creds, "policy", "upload", dir.resolve("nope.yaml").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("nope.yaml: no such file");
    }

    @Test
    void listsAndRevokesOperatorsAndARevokedOperatorIsToldWhy() throws Exception {
        Path out = dir.resolve("bob");
        Result issued = ctl("--credential-dir", creds, "operator", "issue", "--name", "bob", "--role", "operator",
                "--person", "bob@example.com", "--ttl", "8h", "--out", out.toString());
        assertThat(issued.code()).as(issued.err()).isZero();
        assertThat(issued.out()).contains("issued spiffe://test.tollgate/operator/bob (operator) to bob@example.com");
        Result list = ctl("--credential-dir", creds, "operator", "list");
        assertThat(list.out()).contains("NAME", "PERSON", "STATE", "bob", "operator", "bob@example.com", "active",
                "bootstrap-admin", "system");

        Result revoked = ctl("--credential-dir", creds, "operator", "revoke", "bob", "--reason", "left the team");
        assertThat(revoked.code()).as(revoked.err()).isZero();
        assertThat(revoked.out()).contains("revoked spiffe://test.tollgate/operator/bob");
        assertThat(ctl("--credential-dir", creds, "operator", "list").out()).contains("revoked");

        Result refused = ctl("--credential-dir", out.toString(), "workload", "list");
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("reason: identity_revoked", "hint: that SPIFFE ID is revoked")
                .doesNotContain("role");
    }

    @Test
    void operatorTtlOverTheCapIsRefusedNamingTheCap() {
        tcp.close();
        tcp = TestControlPlane.start(dir.resolve("cp2"), null, java.time.Clock.systemUTC(),
                java.util.Map.of("operators.max-ttl", "1h"));
        Result r = ctl("--credential-dir", tcp.cp.operatorDir().toString(), "operator", "issue", "--name", "bob",
                "--role", "viewer", "--person", "bob@example.com", "--ttl", "8h", "--out", dir.resolve("b").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("ttl: 8h (expected: <= 1h, operators.max-ttl)");
    }

    @Test
    void hintsFollowTheProblemNotTheStatus() {
        Result task = ctl("--credential-dir", creds, "task", "show", "no-such-task");
        assertThat(task.code()).isEqualTo(1);
        assertThat(task.err()).contains("reason: task_not_found", "ctl task list").doesNotContain("workload list");
        Result key = ctl("--credential-dir", creds, "signing-key", "revoke", "nokid", "--reason", "x");
        assertThat(key.err()).contains("signing_key_not_found", "ctl signing-key list").doesNotContain("workload list");
        Result workload = ctl("--credential-dir", creds, "workload", "show", "spiffe://test.tollgate/agent/ghost");
        assertThat(workload.err()).contains("workload_not_found", "ctl workload list");
        Result exception = ctl("--credential-dir", creds, "exception", "approve", "exc-0000000000000000");
        assertThat(exception.code()).isEqualTo(1);
        assertThat(exception.err()).contains("reason: exception_not_found",
                "hint: check the id with './tollgate ctl exception list'").doesNotContain("upstream secret");
    }

    @Test
    void findsTheCredentialsOfAControlPlaneStartedWithADataDir() {
        Path dataDir = tcp.cp.config().dataDir();
        Result r = ctl("--data-dir", dataDir.toString(), "workload", "list");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("SPIFFE ID");
        Result sub = ctl("workload", "list", "--data-dir", dataDir.toString());
        assertThat(sub.code()).as(sub.err()).isZero();
    }

    @Test
    void anUnreachableControlPlaneIsNamedWithTheCause() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Result r = ctl("--credential-dir", creds, "--server", "https://127.0.0.1:" + port, "workload", "list");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("cannot reach the control plane at https://127.0.0.1:" + port
                + ": connection refused").doesNotContain("null");
    }

    @Test
    void explainsWhatToDoWhenNoControlPlaneIsFound() {
        Result r = ctl("--credential-dir", dir.resolve("nowhere").toString(), "workload", "list");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("cannot read " + dir.resolve("nowhere").resolve("api-url").toAbsolutePath()
                + " (it does not exist)", "Is a control plane running", "--data-dir", "--server");
    }

    @Test
    void rejectsAMalformedSpiffeIdBeforeCallingTheApi() {
        Result r = ctl("--credential-dir", creds, "workload", "show", "spiffe://test.tollgate/agent/../x");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("is not a SPIFFE ID", "dot_segment");
    }

    @Test
    void everyCommandAndOptionHasADescription() {
        CommandLine root = Tollgate.commandLine();
        List<String> missing = new ArrayList<>();
        walk(root, missing);
        assertThat(missing).isEmpty();
    }

    private static void walk(CommandLine cl, List<String> missing) {
        var spec = cl.getCommandSpec();
        if (spec.usageMessage().description().length == 0) {
            missing.add("command " + spec.qualifiedName());
        }
        for (var opt : spec.options()) {
            if (opt.description().length == 0 || opt.description()[0].isBlank()) {
                missing.add(spec.qualifiedName() + " " + opt.longestName());
            }
        }
        for (CommandLine sub : cl.getSubcommands().values()) {
            walk(sub, missing);
        }
    }

    private static JsonNode json(String s) {
        try {
            return Json.mapper().readTree(s);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + s, e);
        }
    }
}
