package dev.tollgate.proxy.credential;

import static dev.tollgate.proxy.credential.CredentialEnforcementTest.assertDenied;
import static dev.tollgate.proxy.credential.CredentialEnforcementTest.awaitRevoked;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;

/** One revocation, pushed once over the watch stream, is enforced by every sidecar that watches it. */
class RevocationAtEverySidecarTest {
    static final SpiffeId BOT = TestControlPlane.agent("bot");
    static final String[] TOOLS = {"crm", "mail", "docs"};

    @TempDir
    Path dir;

    @Test
    void completingATaskIsEnforcedAtTheAgentsSidecarAndAtEveryToolSidecar() throws Exception {
        try (CredentialFixture fx = new CredentialFixture(dir)) {
            ToolApp app = fx.track(new ToolApp());
            CredentialFixture.Workload bot = fx.workload(BOT, "crm.read", "mail.send", "docs.read");
            Map<String, Sidecar> tools = new LinkedHashMap<>();
            for (String name : TOOLS) {
                tools.put(name, fx.sidecar(fx.workload(TestControlPlane.tool(name)),
                        CredentialFixture.toolYaml(app, "")));
            }
            Sidecar agent = fx.sidecar(bot, CredentialFixture.agentYaml(tools, ""));
            TaskCreatedView task = fx.task(bot, 300, "crm.read", "mail.send", "docs.read");

            Map<String, String> exchanged = new LinkedHashMap<>();
            for (String name : TOOLS) {
                HttpResponse<String> viaAgent = CredentialFixture.viaEgress(agent, name, "/x", TokenClaims.HEADER,
                        task.token());
                assertThat(viaAgent.statusCode()).as(name + ": " + viaAgent.body()).isEqualTo(200);
                exchanged.put(name, fx.as(bot).exchangeToken(task.token(), TestControlPlane.tool(name), null)
                        .accessToken());
                HttpResponse<String> direct = fx.viaIngress(tools.get(name), bot, "/x", TokenClaims.HEADER,
                        exchanged.get(name));
                assertThat(direct.statusCode()).as(name + ": " + direct.body()).isEqualTo(200);
            }

            fx.tcp.admin().completeTask(task.task().id());

            int before = app.requests();
            awaitRevoked(agent, RevocationSet.Type.TASK, task.task().id());
            for (String name : TOOLS) {
                assertDenied(CredentialFixture.viaEgress(agent, name, "/x", TokenClaims.HEADER, task.token()), 401,
                        "revoked");
                Sidecar tool = tools.get(name);
                awaitRevoked(tool, RevocationSet.Type.TASK, task.task().id());
                // The exchanged token is still within its own lifetime: only the revocation can refuse it.
                assertDenied(fx.viaIngress(tool, bot, "/x", TokenClaims.HEADER, exchanged.get(name)), 401, "revoked");
            }
            assertThat(app.requests()).isEqualTo(before);
        }
    }
}
