package dev.tollgate.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.controlplane.config.ConfigException;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.testing.ReferenceYaml;

/** config/webhook.yaml lists every option with its default; bad configuration is reported all at once. */
class WebhookConfigTest {
    static final Path REFERENCE = Path.of("..", "..", "config", "webhook.yaml");

    @TempDir
    Path dir;

    @Test
    void referenceFileListsEveryOptionWithItsDefault() throws IOException {
        ConfigValues v = WebhookConfig.values().loadYaml(REFERENCE);
        assertThat(v.errors()).isEmpty();
        ReferenceYaml reference = ReferenceYaml.parse(Files.readString(REFERENCE));
        List<String> missing = new ArrayList<>();
        for (ConfigValues.Option o : WebhookConfig.OPTIONS) {
            var entry = reference.entry(o.key().replace('.', '/'));
            if (entry.isEmpty() || !entry.get().description().equals(Optional.of(o.description()))) {
                missing.add(o.key());
                continue;
            }
            assertThat(v.string(o.key())).as("default of %s", o.key()).isEqualTo(o.defaultValue());
        }
        assertThat(missing).as("options without their default and one-line description in %s", REFERENCE).isEmpty();
    }

    @Test
    void reportsEveryProblemAtOnce() throws IOException {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, """
                listen: nowhere
                sidecar:
                  image-pull-policy: Sometimes
                  native: maybe
                  control-plane-url: http://plain:8443
                  token-expiration: 5m
                  ports: {admin: 15001}
                  config: {upstreams: {}, tls: {cert: svid.crt}}
                no-such-option: 1
                """);

        assertThatThrownBy(() -> WebhookConfig.parse(WebhookConfig.values().loadYaml(f)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("unknown option 'no-such-option'")
                .hasMessageContaining("listen: 'nowhere'")
                .hasMessageContaining("tls.cert: not set")
                .hasMessageContaining("sidecar.image: not set")
                .hasMessageContaining("sidecar.trust-anchor: not set")
                .hasMessageContaining("sidecar.image-pull-policy: 'Sometimes'")
                .hasMessageContaining("sidecar.native: 'maybe'")
                .hasMessageContaining("sidecar.control-plane-url: 'http://plain:8443' (expected: https://host:port)")
                .hasMessageContaining("sidecar.token-expiration: 5m (expected: between 10m and 1d)")
                .hasMessageContaining("sidecar.ports: admin 15001, egress 15001")
                .hasMessageContaining("sidecar.config.upstreams: set by the webhook")
                .hasMessageContaining("sidecar.config.tls: cert, key and bundle come from the control plane");
    }

    @Test
    void audienceDefaultsToTheTrustDomain() {
        InjectionSettings s = Fixtures.settings("sidecar.trust-domain", "agents.example.org");

        assertThat(s.tokenAudience()).isEqualTo("agents.example.org");
        assertThat(s.tokenExpirationSeconds()).isEqualTo(600);
        assertThat(s.nativeSidecar()).isTrue();
    }
}
