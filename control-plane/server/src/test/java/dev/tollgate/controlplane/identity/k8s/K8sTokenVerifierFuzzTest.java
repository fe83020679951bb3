package dev.tollgate.controlplane.identity.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.wire.Json;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;

class K8sTokenVerifierFuzzTest {
    private static final K8sTokenVerifier VERIFIER = verifier();

    private static K8sTokenVerifier verifier() {
        try {
            Path dir = Files.createTempDirectory("k8s-fuzz");
            dir.toFile().deleteOnExit();
            Path jwks = dir.resolve("jwks.json");
            Files.writeString(jwks, new JWKSet(new ECKeyGenerator(Curve.P_256).keyID("fuzz")
                    .algorithm(JWSAlgorithm.ES256).generate().toPublicJWK()).toString());
            jwks.toFile().deleteOnExit(); // registered after the directory: deleted before it, at exit
            ConfigValues v = ControlPlaneConfig.values();
            v.set("k8s-attestation.clusters", Json.mapper().writeValueAsString(Map.of("prod", Map.of(
                    "issuer", "https://kubernetes.default.svc.cluster.local", "jwks-file", jwks.toString()))), "fuzz");
            K8sAttestationSettings s = K8sAttestationSettings.parse(v, "test.tollgate");
            v.throwIfInvalid("fuzz");
            return new K8sTokenVerifier(s, Clock.systemUTC(), new ControlPlaneMetrics(new SimpleMeterRegistry()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Any token text is verified or refused with a reason (never another exception, nothing fetched over the
     * network). Runs its seed corpus ({@code K8sTokenVerifierFuzzTestInputs/verifiesOrRefusesWithAReason}) as a
     * normal test; {@code JAZZER_FUZZ=1} fuzzes.
     */
    @FuzzTest
    void verifiesOrRefusesWithAReason(byte[] input) {
        String token = new String(input, StandardCharsets.UTF_8);
        try {
            ProjectedToken t = VERIFIER.verify(token, null);
            assertThat(t.podUid()).isNotEmpty();
        } catch (K8sRefusalException e) {
            assertThat(e.refusal()).isNotNull();
            assertThat(e.getMessage()).isNotBlank();
        }
    }
}
