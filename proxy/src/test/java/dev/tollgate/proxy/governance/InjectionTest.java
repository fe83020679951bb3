package dev.tollgate.proxy.governance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.api.wire.UpstreamSecretValue;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.request.HeaderEdit;
import dev.tollgate.proxy.support.MutableClock;

/** Credential injection: which header edits, only under an active inject-credential exception, never the value. */
class InjectionTest {
    static final SpiffeId ME = ExceptionBookTest.ME;
    static final Instant T0 = ExceptionBookTest.T0;
    static final String SECRET = "s3cr3t-VALUE-42";

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(T0);
    final ExceptionBook book = new ExceptionBook(clock, () -> Optional.of(ME));

    SidecarConfig config(String inject) throws Exception {
        Path roots = dir.resolve("roots.pem");
        Files.writeString(roots, "");
        Path anchor = dir.resolve("anchor.pem");
        Files.writeString(anchor, "");
        Path file = dir.resolve("sidecar.yaml");
        Files.writeString(file, "listeners:\n  egress: {address: \"127.0.0.1:0\"}\n"
                + "control-plane:\n  url: \"https://127.0.0.1:1\"\n  server-id: \"spiffe://test.tollgate/control-plane\"\n"
                + "  trust-anchor: \"" + anchor + "\"\n"
                + "tls:\n  spiffe-id: \"" + ME + "\"\n"
                + "upstreams:\n  legacy:\n    address: \"legacy.example:443\"\n    tls: external\n    match: {host: legacy}\n"
                + "    inject: " + inject + "\n"
                + "  plain:\n    address: \"plain.example:443\"\n    tls: external\n    match: {host: plain}\n");
        return ConfigLoader.load(file);
    }

    void grant(String state, Instant expires) {
        book.apply(new ExceptionGrant("exc-inj", state, ExceptionBook.INJECT_CREDENTIAL, ME.toString(),
                "legacy.example:443", null, "egress", expires, null));
    }

    static UpstreamSecretValue value(int version, String v) {
        return new UpstreamSecretValue("legacy-key", "legacy.example:443", "exc-inj", version, v);
    }

    @Test
    void aHeaderIsSetAfterEveryCredentialTheAgentSentIsStripped() throws Exception {
        SidecarConfig c = config("{secret: legacy-key, header: X-Api-Key, prefix: \"Key \"}");
        Injection inj = new Injection(c, book);
        grant("active", T0.plus(Duration.ofHours(1)));
        assertThat(inj.put(value(1, SECRET))).isTrue();

        Injection.Outcome o = inj.editsFor(c.upstreams().get("legacy"), clock.instant());
        assertThat(o).isInstanceOf(Injection.Outcome.Edits.class);
        Injection.Outcome.Edits e = (Injection.Outcome.Edits) o;
        assertThat(e.secret()).isEqualTo("legacy-key");
        assertThat(e.exception()).isEqualTo("exc-inj");
        assertThat(e.toString()).doesNotContain(SECRET);
        assertThat(inj.editsFor(c.upstreams().get("legacy"), clock.instant()))
                .as("built once per value taken, not per request").isSameAs(e);

        HttpHeaders h = new DefaultHttpHeaders();
        h.add("authorization", "Bearer agent-token");
        h.add("x-api-key", "agent's own key");
        h.add("X-API-KEY", "another");
        h.add("tollgate-token", "task-token");
        h.add("accept", "application/json");
        HeaderEdit.applyAll(e.edits(), h);
        assertThat(h.getAll("x-api-key")).containsExactly("Key " + SECRET);
        assertThat(h.contains("authorization")).isFalse();
        assertThat(h.contains("tollgate-token")).isFalse();
        assertThat(h.get("accept")).isEqualTo("application/json");

        assertThat(inj.editsFor(c.upstreams().get("plain"), clock.instant()))
                .isSameAs(Injection.Outcome.NOT_CONFIGURED);
    }

    @Test
    void basicAuthCarriesTheUserNameAndTheValue() throws Exception {
        SidecarConfig c = config("{secret: legacy-key, as: basic, username: batch}");
        Injection inj = new Injection(c, book);
        grant("active", T0.plus(Duration.ofHours(1)));
        inj.put(value(1, SECRET));
        HttpHeaders h = new DefaultHttpHeaders().add("authorization", "Basic YWdlbnQ6cHc=");
        HeaderEdit.applyAll(((Injection.Outcome.Edits) inj.editsFor(c.upstreams().get("legacy"), clock.instant()))
                .edits(), h);
        assertThat(h.getAll("authorization")).containsExactly("Basic " + Base64.getEncoder()
                .encodeToString(("batch:" + SECRET).getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void withoutAValueTheRefusalNamesTheSecret() throws Exception {
        SidecarConfig c = config("{secret: legacy-key}");
        Injection inj = new Injection(c, book);
        grant("active", T0.plus(Duration.ofHours(1)));
        assertThat(inj.editsFor(c.upstreams().get("legacy"), clock.instant())).isInstanceOfSatisfying(
                Injection.Outcome.Refused.class, r -> assertThat(r.message()).contains("legacy-key"));
    }

    @Test
    void anEndedExceptionRefusesNamingItAndDropsTheValue() throws Exception {
        SidecarConfig c = config("{secret: legacy-key}");
        Injection inj = new Injection(c, book);
        grant("active", T0.plus(Duration.ofHours(1)));
        inj.put(value(1, SECRET));
        clock.advance(Duration.ofHours(1));
        assertThat(inj.editsFor(c.upstreams().get("legacy"), clock.instant())).isInstanceOfSatisfying(
                Injection.Outcome.Refused.class, r -> assertThat(r.message()).contains("exc-inj").contains("expired")
                        .doesNotContain(SECRET));
        assertThat(inj.holds("legacy-key")).isFalse();

        clock.advance(Duration.ofHours(-1));
        inj.put(value(2, SECRET));
        grant("revoked", T0.plus(Duration.ofHours(1)));
        inj.exceptionsChanged(clock.instant());
        assertThat(inj.holds("legacy-key")).isFalse();
        assertThat(inj.editsFor(c.upstreams().get("legacy"), clock.instant())).isInstanceOf(
                Injection.Outcome.Refused.class);
    }

    @Test
    void aValueForAnotherUpstreamOrAnUnconfiguredSecretIsNotTaken() throws Exception {
        Injection inj = new Injection(config("{secret: legacy-key}"), book);
        assertThat(inj.put(new UpstreamSecretValue("legacy-key", "evil.example:443", "exc-inj", 1, SECRET)))
                .isFalse();
        assertThat(inj.put(new UpstreamSecretValue("other-key", "legacy.example:443", "exc-inj", 1, SECRET)))
                .isFalse();
        assertThat(inj.holds("legacy-key")).isFalse();
        assertThat(inj.secretNames()).containsExactly("legacy-key");
    }
}
