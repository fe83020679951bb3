package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;

/**
 * Which request headers carry the task token on egress, and that none carrying it ever reaches the tool: requests sent
 * byte for byte to the agent's sidecar, through the tool's sidecar to an application that records every header.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TaskTokenHeadersTest {
    static final SpiffeId BOT = TestControlPlane.agent("bot");
    static final SpiffeId CRM = TestControlPlane.tool("crm");
    /** Where {@code T} in a header template goes. */
    static final String T = "{T}";

    CredentialFixture fx;
    ToolApp app;
    CredentialFixture.Workload bot;
    Sidecar agent;
    TaskCreatedView task;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        fx = new CredentialFixture(dir);
        app = fx.track(new ToolApp());
        bot = fx.workload(BOT, "crm.read");
        Sidecar tool = fx.sidecar(fx.workload(CRM), CredentialFixture.toolYaml(app,
                "credentials:\n  exempt: [{path-prefix: /public, direction: ingress}]\n"));
        agent = fx.sidecar(bot, CredentialFixture.agentYaml(Map.of("crm", tool),
                "credentials:\n  exempt: [{path-prefix: /public, direction: egress}]\n"));
        task = fx.task(bot, 300, "crm.read");
    }

    @AfterAll
    void stop() throws Exception {
        fx.close();
    }

    /** Sends GET /accounts to the agent's egress with these header lines; returns the response's first line. */
    private String send(String... headerLines) throws Exception {
        return sendTo("/accounts", headerLines);
    }

    private String sendTo(String path, String... headerLines) throws Exception {
        StringBuilder b = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: crm\r\nConnection: close\r\n");
        for (String h : headerLines) {
            b.append(h.replace(T, task.token())).append("\r\n");
        }
        String answer = CredentialFixture.raw(agent.egressAddress().orElseThrow(),
                b.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
        int eol = answer.indexOf("\r\n");
        return eol < 0 ? answer : answer.substring(0, eol) + " " + answer.substring(answer.lastIndexOf("\r\n") + 2);
    }

    private void assertToolNeverSawTheTaskToken() {
        Map<String, List<String>> seen = app.last();
        assertThat(seen.values().stream().flatMap(List::stream)).as(seen.toString())
                .noneMatch(v -> v.contains(task.token()));
        assertThat(seen.get(TokenClaims.HEADER)).hasSize(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"Authorization: Token {T}", "Authorization: Bearer\t{T}", "Authorization: Bearer,{T}",
            "Authorization: bearer {T}", "Authorization: Bearer    {T}", "Authorization: Basic {T}",
            "Proxy-Authorization: Bearer {T}", "X-Api-Key: {T}", "Cookie: a=1; session={T}",
            "tollgate-token-copy: {T}"})
    void theTaskTokenInAnyOtherHeaderNeverReachesTheTool(String extra) throws Exception {
        int before = app.requests();
        String status = send("tollgate-token: {T}", extra);
        assertThat(status).startsWith("HTTP/1.1 200");
        assertThat(app.requests()).isEqualTo(before + 1);
        assertToolNeverSawTheTaskToken();
    }

    @ParameterizedTest
    @ValueSource(strings = {"Authorization: bearer {T}", "Authorization: Bearer\t{T}", "Authorization: BEARER   {T}"})
    void aBearerTokenInAnySpellingOfTheSchemeIsTheCredentialAndIsRemoved(String header) throws Exception {
        int before = app.requests();
        String status = send(header);
        assertThat(status).startsWith("HTTP/1.1 200");
        assertThat(app.requests()).isEqualTo(before + 1);
        assertToolNeverSawTheTaskToken();
        assertThat(app.last()).doesNotContainKey("authorization");
    }

    @Test
    void otherValuesOfAHeaderThatCarriedTheTokenStay() throws Exception {
        String status = send("tollgate-token: {T}", "X-Trace: keep-me", "X-Trace: also {T}");
        assertThat(status).startsWith("HTTP/1.1 200");
        assertToolNeverSawTheTaskToken();
        assertThat(app.last().get("x-trace")).containsExactly("keep-me");
    }

    @Test
    void withTheTaskTokenInTollgateTokenTheApplicationsAuthorizationReachesTheToolUnchanged() throws Exception {
        int before = app.requests();
        String status = send("tollgate-token: {T}", "Authorization: Bearer mcp-server-oauth-token.abc");
        assertThat(status).startsWith("HTTP/1.1 200");
        assertThat(app.requests()).isEqualTo(before + 1);
        Map<String, List<String>> seen = app.last();
        assertThat(seen.get("authorization")).containsExactly("Bearer mcp-server-oauth-token.abc");
        assertThat(seen.get(TokenClaims.HEADER).get(0)).isNotEqualTo(task.token());
        assertToolNeverSawTheTaskToken();
    }

    @Test
    void onAnExemptPathTheValueOfTollgateTokenIsRemovedFromEveryHeader() throws Exception {
        int before = app.requests();
        String status = sendTo("/public/info", "tollgate-token: {T}", "X-Copy: {T}");
        assertThat(status).startsWith("HTTP/1.1 200");
        assertThat(app.requests()).isEqualTo(before + 1);
        Map<String, List<String>> seen = app.last();
        assertThat(seen).doesNotContainKey(TokenClaims.HEADER).doesNotContainKey("x-copy");
    }

    @Test
    void withoutTollgateTokenTwoBearerAuthorizationsAreAmbiguous() throws Exception {
        int before = app.requests();
        String status = send("Authorization: Bearer {T}", "Authorization: Bearer other");
        assertThat(status).startsWith("HTTP/1.1 401").contains("\"reason\":\"ambiguous\"");
        assertThat(app.requests()).isEqualTo(before);
    }
}
