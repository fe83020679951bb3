package dev.tollgate.webhook;

import static dev.tollgate.webhook.Fixtures.JSON;
import static dev.tollgate.webhook.Fixtures.annotations;
import static dev.tollgate.webhook.Fixtures.decodePatch;
import static dev.tollgate.webhook.Fixtures.patched;
import static dev.tollgate.webhook.Fixtures.pod;
import static dev.tollgate.webhook.Fixtures.review;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.testing.KubernetesSchemas;
import dev.tollgate.testing.TestPki;

/**
 * The webhook as the API server meets it: AdmissionReview requests, shaped as the API server sends them, POSTed
 * over real HTTPS to a running webhook; its answers decoded, their patches applied, the patched pods validated
 * against the Kubernetes schemas; its serving certificate rotated under it.
 */
class WebhookServerTest {
    @TempDir
    Path dir;

    private TestPki pki;
    private Path cert;
    private Path key;
    private Path anchor;
    private Webhook webhook;
    private HttpClient client;

    @BeforeEach
    void start() throws Exception {
        pki = TestPki.create("tollgate.local");
        Path[] files = serving(pki.leaf(null).dns("localhost").commonName("tg-webhook").issue());
        cert = files[0];
        key = files[1];
        anchor = dir.resolve("ca.pem");
        Files.writeString(anchor, pki.caPem());
        webhook = Webhook.start(config(), Clock.systemUTC());
        client = HttpClient.newBuilder().sslContext(trusting(pki)).connectTimeout(Duration.ofSeconds(10)).build();
    }

    @AfterEach
    void stop() {
        if (webhook != null) {
            webhook.close();
        }
    }

    private Path[] serving(TestPki.Issued issued) throws IOException {
        Path c = dir.resolve("tls.crt");
        Path k = dir.resolve("tls.key");
        Files.writeString(c, issued.certPem());
        Files.writeString(k, issued.keyPem());
        return new Path[] {c, k};
    }

    private WebhookConfig config() {
        ConfigValues v = WebhookConfig.values()
                .set("listen", "127.0.0.1:0", "test").set("admin.listen", "127.0.0.1:0", "test")
                .set("tls.cert", cert.toString(), "test").set("tls.key", key.toString(), "test")
                .set("tls.reload-interval", "100ms", "test")
                .set("limits.max-body-bytes", "262144", "test")
                .set("sidecar.image", "registry.example.org/platform/tollgate:0.1.0", "test")
                .set("sidecar.control-plane-url", "https://tg-tollgate.tollgate.svc:8443", "test")
                .set("sidecar.trust-anchor", anchor.toString(), "test");
        return WebhookConfig.parse(v);
    }

    private static SSLContext trusting(TestPki ca) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", ca.caCert);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private URI uri(String path) {
        return URI.create("https://localhost:" + webhook.address().getPort() + path);
    }

    private HttpResponse<String> post(String path, byte[] body) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** POSTs an AdmissionReview and returns its response object, checked for the envelope and the uid. */
    private JsonNode admit(ObjectNode review) throws Exception {
        HttpResponse<String> res = post("/mutate", JSON.writeValueAsBytes(review));
        assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
        assertThat(res.headers().firstValue("content-type")).hasValue("application/json");
        JsonNode answer = JSON.readTree(res.body());
        assertThat(answer.path("apiVersion").asText()).isEqualTo("admission.k8s.io/v1");
        assertThat(answer.path("kind").asText()).isEqualTo("AdmissionReview");
        assertThat(answer.at("/response/uid").asText()).isEqualTo(review.at("/request/uid").asText());
        return answer.path("response");
    }

    @Test
    void injectsAnOptedInPodWithABase64JsonPatch() throws Exception {
        ObjectNode review = review("pod-create-agent.json");

        JsonNode response = admit(review);

        assertThat(response.path("allowed").asBoolean()).isTrue();
        assertThat(response.path("patchType").asText()).isEqualTo("JSONPatch");
        JsonNode pod = patched(pod(review), decodePatch(response));
        assertThat(pod.at("/spec/initContainers/0/name").asText()).isEqualTo("tollgate-sidecar");
        assertThat(pod.at("/metadata/annotations").path(Annotations.GENERATED_TRUST_ANCHOR).asText())
                .as("the trust anchor file's content").isEqualTo(pki.caPem());
        assertThat(webhook.metrics().admissionCount(SidecarInjector.Result.INJECTED)).isEqualTo(1);
    }

    @Test
    void patchedPodsValidateAgainstTheKubernetesSchemas() throws Exception {
        KubernetesSchemas.assumeAvailable();
        ObjectNode agent = review("pod-create-agent.json");
        ObjectNode tool = review("pod-create-tool.json");
        ObjectNode regular = review("pod-create-agent.json");
        annotations(regular).put(Annotations.NATIVE, "false");

        List<JsonNode> pods = List.of(
                patched(pod(agent), decodePatch(admit(agent))),
                patched(pod(tool), decodePatch(admit(tool))),
                patched(pod(regular), decodePatch(admit(regular))));

        assertThat(KubernetesSchemas.assertValid(pods)).isEmpty();
    }

    @Test
    void schemaValidationCatchesABrokenPod() throws Exception {
        KubernetesSchemas.assumeAvailable();
        ObjectNode review = review("pod-create-agent.json");
        ObjectNode pod = (ObjectNode) patched(pod(review), decodePatch(admit(review)));
        ((ObjectNode) pod.at("/spec/initContainers/0")).put("restartPolicy", 7);
        ((ObjectNode) pod.at("/spec/volumes/2/projected/sources/0/serviceAccountToken")).put("expirationSeconds", "ten minutes");

        List<KubernetesSchemas.Verdict> verdicts = KubernetesSchemas.validate(List.of(pod));

        assertThat(verdicts.get(0).result()).isEqualTo("invalid");
        assertThat(verdicts.get(0).errors()).contains("restartPolicy").contains("expirationSeconds");
    }

    @Test
    void leavesAnOptedOutPodUnchanged() throws Exception {
        ObjectNode review = review("pod-create-agent.json");
        annotations(review).put(Annotations.INJECT, "false");

        JsonNode response = admit(review);

        assertThat(response.path("allowed").asBoolean()).isTrue();
        assertThat(response.has("patch")).isFalse();
        assertThat(response.has("patchType")).isFalse();
        assertThat(webhook.metrics().admissionCount(SidecarInjector.Result.OPTED_OUT)).isEqualTo(1);
    }

    @Test
    void leavesAnAlreadyInjectedPodUnchanged() throws Exception {
        ObjectNode review = review("pod-create-agent.json");
        JsonNode once = patched(pod(review), decodePatch(admit(review)));
        review.with("request").set("object", once);

        JsonNode response = admit(review);

        assertThat(response.path("allowed").asBoolean()).isTrue();
        assertThat(response.has("patch")).isFalse();
        assertThat(webhook.metrics().admissionCount(SidecarInjector.Result.ALREADY_INJECTED)).isEqualTo(1);
    }

    @Test
    void refusesAMalformedPodWithAStatusMessage() throws Exception {
        ObjectNode review = review("pod-create-agent.json");
        annotations(review).put(Annotations.APP_PORT, "eighty");

        JsonNode response = admit(review);

        assertThat(response.path("allowed").asBoolean()).isFalse();
        assertThat(response.has("patch")).isFalse();
        assertThat(response.at("/status/code").asInt()).isEqualTo(400);
        assertThat(response.at("/status/message").asText())
                .contains("sidecar.tollgate.dev/app-port: 'eighty' (expected: a port number, 1..65535)");
        assertThat(webhook.metrics().admissionCount(SidecarInjector.Result.REFUSED)).isEqualTo(1);
    }

    @Test
    void answersABodyThatIsNoAdmissionReviewWith400() throws Exception {
        ObjectNode v1beta1 = review("pod-create-agent.json").put("apiVersion", "admission.k8s.io/v1beta1");
        ObjectNode noUid = review("pod-create-agent.json");
        noUid.with("request").remove("uid");
        String deep = "[".repeat(5000) + "]".repeat(5000);

        HttpResponse<String> notJson = post("/mutate", "{\"apiVersion\":".getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> oldVersion = post("/mutate", JSON.writeValueAsBytes(v1beta1));
        HttpResponse<String> missingUid = post("/mutate", JSON.writeValueAsBytes(noUid));
        HttpResponse<String> tooDeep = post("/mutate", deep.getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> duplicateKeys = post("/mutate",
                "{\"apiVersion\":\"admission.k8s.io/v1\",\"apiVersion\":\"x\"}".getBytes(StandardCharsets.UTF_8));

        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(notJson.body()).startsWith("body: not JSON");
        assertThat(oldVersion.statusCode()).isEqualTo(400);
        assertThat(oldVersion.body()).contains("'admission.k8s.io/v1beta1'").contains("admissionReviewVersions: [v1]");
        assertThat(missingUid.statusCode()).isEqualTo(400);
        assertThat(missingUid.body()).contains("request.uid: missing");
        assertThat(tooDeep.statusCode()).isEqualTo(400);
        assertThat(duplicateKeys.statusCode()).isEqualTo(400);
        assertThat(duplicateKeys.body()).contains("Duplicate");
        assertThat(webhook.metrics().rejectedCount(WebhookMetrics.RejectReason.MALFORMED)).isEqualTo(5);
    }

    @Test
    void refusesABodyOverTheLimitWith413() throws Exception {
        ObjectNode review = review("pod-create-agent.json");
        annotations(review).put("padding", "x".repeat(300_000));

        HttpResponse<String> res = post("/mutate", JSON.writeValueAsBytes(review));

        assertThat(res.statusCode()).isEqualTo(413);
        assertThat(webhook.metrics().rejectedCount(WebhookMetrics.RejectReason.TOO_LARGE)).isEqualTo(1);
    }

    @Test
    void answersOtherPathsAndMethodsWithoutAnAdmission() throws Exception {
        HttpResponse<String> get = client.send(HttpRequest.newBuilder(uri("/mutate")).GET().build(), HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> other = post("/validate", JSON.writeValueAsBytes(review("pod-create-agent.json")));

        assertThat(get.statusCode()).isEqualTo(405);
        assertThat(other.statusCode()).isEqualTo(404);
        assertThat(webhook.metrics().admissionCount(SidecarInjector.Result.INJECTED)).isZero();
    }

    @Test
    void servesARotatedCertificateToNewConnectionsWithoutARestart() throws Exception {
        BigInteger before = presentedSerial();
        TestPki.Issued next = pki.leaf(null).dns("localhost").commonName("tg-webhook").issue();

        serving(next);

        await().atMost(Duration.ofSeconds(30)).until(() -> presentedSerial().equals(next.cert().getSerialNumber()));
        assertThat(before).isNotEqualTo(next.cert().getSerialNumber());
        assertThat(webhook.metrics().reloadCount(WebhookMetrics.ReloadedFile.CERTIFICATE, true)).isGreaterThanOrEqualTo(1);
        assertThat(admit(review("pod-create-agent.json")).path("allowed").asBoolean()).isTrue();
    }

    @Test
    void keepsTheOldCertificateWhenTheNewFilesAreBroken() throws Exception {
        BigInteger before = presentedSerial();
        TestPki.Issued other = pki.leaf(null).dns("localhost").issue();
        TestPki.Issued expired = pki.leaf(null).dns("localhost")
                .validity(Instant.now().minus(Duration.ofHours(2)), Instant.now().minus(Duration.ofHours(1))).issue();

        Files.writeString(key, other.keyPem());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                webhook.metrics().reloadCount(WebhookMetrics.ReloadedFile.CERTIFICATE, false) >= 1);
        Files.writeString(cert, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
        await().atMost(Duration.ofSeconds(30)).until(() ->
                webhook.metrics().reloadCount(WebhookMetrics.ReloadedFile.CERTIFICATE, false) >= 2);
        serving(expired);
        await().atMost(Duration.ofSeconds(30)).until(() ->
                webhook.metrics().reloadCount(WebhookMetrics.ReloadedFile.CERTIFICATE, false) >= 3);

        assertThat(presentedSerial()).isEqualTo(before);
        assertThat(webhook.metrics().reloadCount(WebhookMetrics.ReloadedFile.CERTIFICATE, true)).isZero();
        assertThat(admit(review("pod-create-agent.json")).path("allowed").asBoolean()).isTrue();
    }

    @Test
    void podsCreatedAfterATrustAnchorChangeGetTheNewAnchor() throws Exception {
        TestPki next = TestPki.create("tollgate.local");
        Files.writeString(anchor, pki.caPem() + next.caPem());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                webhook.metrics().reloadCount(WebhookMetrics.ReloadedFile.TRUST_ANCHOR, true) >= 1);

        ObjectNode review = review("pod-create-agent.json");
        JsonNode pod = patched(pod(review), decodePatch(admit(review)));

        assertThat(pod.at("/metadata/annotations").path(Annotations.GENERATED_TRUST_ANCHOR).asText())
                .isEqualTo(pki.caPem() + next.caPem());
    }

    /** The serial of the certificate a new TLS connection to the webhook is given. */
    private BigInteger presentedSerial() throws Exception {
        try (SSLSocket s = (SSLSocket) trusting(pki).getSocketFactory().createSocket("127.0.0.1", webhook.address().getPort())) {
            s.setSoTimeout(10_000);
            s.startHandshake();
            return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }
}
