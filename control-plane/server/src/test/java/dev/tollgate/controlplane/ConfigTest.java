package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.controlplane.config.ConfigException;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.testing.ReferenceYaml;

class ConfigTest {
    /** The reference file, relative to this module's directory (where surefire runs). */
    static final Path REFERENCE = Path.of("..", "..", "config", "control-plane.yaml");

    @TempDir
    Path dir;

    @Test
    void referenceFileListsEveryOptionWithItsDefault() throws IOException {
        String text = Files.readString(REFERENCE);
        ConfigValues v = ControlPlaneConfig.values().loadYaml(REFERENCE);
        assertThat(v.errors()).isEmpty();
        ReferenceYaml reference = ReferenceYaml.parse(text);
        List<String> missing = new ArrayList<>();
        List<String> undescribed = new ArrayList<>();
        for (ConfigValues.Option o : ControlPlaneConfig.OPTIONS) {
            var entry = reference.entry(o.key().replace('.', '/'));
            if (entry.isEmpty()) {
                missing.add(o.key());
                continue;
            }
            if (!entry.get().description().equals(Optional.of(o.description()))) {
                undescribed.add(o.key() + " (line " + entry.get().line() + ": expected the comment '# "
                        + o.description() + "' right above it)");
            }
            assertThat(v.string(o.key())).as("default of %s", o.key()).isEqualTo(o.defaultValue());
        }
        assertThat(missing).as("options in ControlPlaneConfig.OPTIONS but not in %s", REFERENCE).isEmpty();
        assertThat(undescribed).as("options of %s without their one-line description", REFERENCE).isEmpty();
    }

    @Test
    void missingConfigFileIsReportedByItsFullPathAsMissing() {
        Path missing = dir.resolve("etc").resolve("control-plane.yaml");
        ConfigValues v = ControlPlaneConfig.values().loadYaml(missing);
        assertThat(v.errors()).containsExactly("config file " + missing.toAbsolutePath() + ": does not exist");
    }

    @Test
    void bannerNamesTheCtlCommandThatFindsTheCredentials() {
        Map<String, String> env = Map.of("TOLLGATE_HOME", dir.toString());
        ConfigValues standard = ControlPlaneConfig.values();
        assertThat(ControlPlaneCommand.ctlCommand(ControlPlaneConfig.parse(standard, env), env))
                .isEqualTo("./tollgate ctl workload list");
        ConfigValues own = ControlPlaneConfig.values();
        own.set("data-dir", dir.resolve("my cp").toString(), "test");
        assertThat(ControlPlaneCommand.ctlCommand(ControlPlaneConfig.parse(own, env), env))
                .isEqualTo("./tollgate ctl --data-dir '" + dir.resolve("my cp").toAbsolutePath() + "' workload list");
    }

    @Test
    void referenceFileParsesIntoTheDefaults() {
        ControlPlaneConfig cfg = ControlPlaneConfig.parse(ControlPlaneConfig.values().loadYaml(REFERENCE),
                Map.of("TOLLGATE_HOME", dir.toString()));
        assertThat(cfg.trustDomain()).isEqualTo("tollgate.local");
        assertThat(cfg.svid().defaultTtl()).isEqualTo(Duration.ofMinutes(5));
        assertThat(cfg.joinTokenTtl()).isEqualTo(Duration.ofMinutes(10));
        assertThat(cfg.dataDir()).isEqualTo(dir.resolve("control-plane"));
        assertThat(cfg.database().url()).isEqualTo("jdbc:sqlite:" + dir.resolve("control-plane").resolve("control-plane.db"));
    }

    @Test
    void reportsEveryProblemAtOnce() throws IOException {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, """
                trust-domain: Bad_Domain
                api:
                  listen: nowhere
                  max-body-bytes: 0
                svid:
                  default-ttl: 2h
                  max-ttl: 1h
                ca:
                  prepare-at: 0.9
                  activate-at: 0.5
                no-such-option: 1
                """);
        assertThatThrownBy(() -> ControlPlaneConfig.parse(ControlPlaneConfig.values().loadYaml(f), Map.of()))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.problems()).hasSize(6);
                    assertThat(e.getMessage())
                            .contains("unknown option 'no-such-option'")
                            .contains("trust-domain: 'Bad_Domain'")
                            .contains("api.listen: 'nowhere' (expected: host:port")
                            .contains("api.max-body-bytes: 0 (expected: between 1024 and")
                            .contains("svid.default-ttl: 2h (expected: <= svid.max-ttl 1h)")
                            .contains("ca.prepare-at: 0.9 (expected: < ca.activate-at 0.5)");
                });
    }

    @Test
    void duplicateKeysInTheFileAreAnError() throws IOException {
        Path f = dir.resolve("dup.yaml");
        Files.writeString(f, "trust-domain: a.b\ntrust-domain: c.d\n");
        assertThat(ControlPlaneConfig.values().loadYaml(f).errors()).singleElement().asString().contains("Duplicate");
    }
}
