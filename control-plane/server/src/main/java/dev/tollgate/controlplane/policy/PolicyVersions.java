package dev.tollgate.controlplane.policy;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.policy.PolicyDiff;
import dev.tollgate.api.policy.PolicyException;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.PolicyActivationView;
import dev.tollgate.api.wire.PolicyDiffView;
import dev.tollgate.api.wire.PolicyUpload;
import dev.tollgate.api.wire.PolicyValidationView;
import dev.tollgate.api.wire.PolicyView;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.api.ApiRequest;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.store.PolicyActivation;
import dev.tollgate.controlplane.store.PolicyVersionRecord;
import dev.tollgate.controlplane.store.RevisionRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.watch.RevisionPublisher;
import dev.tollgate.controlplane.watch.SnapshotSource;

/**
 * The control plane's policy versions. A document is validated and compiled ({@link Policy#parse}) before anything
 * is stored; an upload stores it once per digest, makes it the current policy and publishes a {@code policy}
 * revision ({@link PolicyPayload}) that every sidecar watching the control plane applies. The current policy is
 * also this kind's snapshot in a resync. Uploading the current document again changes and publishes nothing.
 *
 * <p>An upload's activation, its audit event and its revision commit in one transaction. The log is checked before
 * publishing: when the latest {@code policy} revision already names the current digest nothing is appended, and when
 * it does not (another replica's activation) the current policy is published by {@link #publishIfChanged}, which
 * upkeep calls on every tick.
 */
public final class PolicyVersions implements SnapshotSource {
    /** Largest policy document accepted, in UTF-8 bytes (the API's body limit applies first). */
    public static final int MAX_POLICY_BYTES = 256 * 1024;

    /** The payload of a {@code policy} revision, and of the {@code policy} member of a resync. */
    public record PolicyPayload(String version, String digest, String yaml) {
    }

    private final Store store;
    private final RevisionPublisher publisher;
    private final Auditor auditor;
    private final Clock clock;

    public PolicyVersions(Store store, RevisionPublisher publisher, Auditor auditor, Clock clock) {
        this.store = store;
        this.publisher = publisher;
        this.auditor = auditor;
        this.clock = clock;
    }

    /** Validates a document; an invalid one is a result listing its problems, not an error. */
    public PolicyValidationView validate(String yaml) {
        try {
            Policy p = Policy.parse(yaml);
            return new PolicyValidationView(true, p.version(), p.digest(), List.of());
        } catch (PolicyException e) {
            return new PolicyValidationView(false, null, null, e.problems());
        }
    }

    /** The differences between the current policy and the document; 400 listing its problems when it is invalid. */
    public PolicyDiffView diff(String yaml) {
        Policy next = parseOrProblem(yaml);
        Optional<PolicyVersionRecord> current = store.currentPolicy();
        if (current.isEmpty()) {
            return new PolicyDiffView(null, null, next.version(), next.digest(),
                    List.of("+ policy " + next.version() + " (there is no current policy)"));
        }
        Policy from = compileStored(current.get());
        return new PolicyDiffView(from.version(), from.digest(), next.version(), next.digest(),
                from.digest().equals(next.digest()) ? List.of() : PolicyDiff.between(from, next).lines());
    }

    /**
     * Stores the document (once per digest), makes it current and publishes it; audited with the old and new digest.
     * An invalid document is a 400 listing its problems, audited as refused.
     */
    public PolicyActivationView upload(String yaml, String actor) {
        Policy next;
        try {
            next = Policy.parse(yaml);
        } catch (PolicyException e) {
            auditor.record(Auditor.OPERATOR_ACTION, actor, "policy.upload", "policy", "invalid_policy",
                    Map.of("problems", (long) e.problems().size()));
            throw invalid(e);
        }
        // the activation, its audit event and its policy revision commit together
        PolicyActivation a = store.inTransaction("activate policy " + next.digest(), () -> {
            PolicyActivation act = store.activatePolicy(next.version(), next.digest(), next.source(), actor,
                    clock.instant());
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("version", next.version());
            details.put("digest", next.digest());
            details.put("previousVersion", act.previous().map(PolicyVersionRecord::version).orElse(""));
            details.put("previousDigest", act.previous().map(PolicyVersionRecord::digest).orElse(""));
            details.put("stored", act.stored());
            auditor.record(Auditor.OPERATOR_ACTION, actor, "policy.upload", next.digest(),
                    act.changed() ? "ok" : "unchanged", details);
            if (act.changed()) {
                publishIfChanged();
            }
            return act;
        });
        return new PolicyActivationView(view(a.current(), false), a.changed(), a.stored(),
                a.previous().map(PolicyVersionRecord::version).orElse(null),
                a.previous().map(PolicyVersionRecord::digest).orElse(null));
    }

    /** The current policy with its text; 404 when none was uploaded. */
    public PolicyView current() {
        return store.currentPolicy().map(r -> view(r, true)).orElseThrow(() -> ApiProblem.notFound("no_policy",
                "no policy has been uploaded (upload one with PUT /v1/policy or './tollgate ctl policy upload')"));
    }

    /** Stored versions, newest first, without their text. */
    public List<PolicyView> versions(int limit) {
        return store.policyVersions(limit).stream().map(r -> view(r, false)).toList();
    }

    /**
     * Publishes the current policy when the latest {@code policy} revision in the log does not already carry its
     * digest; true when it did.
     */
    public boolean publishIfChanged() {
        // the transaction first, then this object's lock: the order every writer takes them in
        return store.inTransaction("publish the current policy", () -> {
            synchronized (this) {
                Optional<PolicyVersionRecord> current = store.currentPolicy();
                if (current.isEmpty()) {
                    return false;
                }
                PolicyPayload payload = payload(current.get());
                if (latestLogged().map(PolicyPayload::digest).filter(payload.digest()::equals).isPresent()) {
                    return false;
                }
                publisher.publish(WatchEvent.POLICY, payload);
                return true;
            }
        });
    }

    @Override
    public String kind() {
        return WatchEvent.POLICY;
    }

    /** The current policy as a {@link PolicyPayload}, or null (JSON null) when none was uploaded. */
    @Override
    public Object snapshot() {
        return store.currentPolicy().map(PolicyVersions::payload).orElse(null);
    }

    /**
     * The document in a request: the body itself for a YAML media type ({@code application/yaml},
     * {@code application/x-yaml}, {@code text/yaml}, {@code text/plain}), or the {@code yaml} member of a JSON
     * {@link PolicyUpload}. 413 when it is larger than {@link #MAX_POLICY_BYTES}.
     */
    public static String document(ApiRequest r) {
        String type = r.contentType() == null ? "" : r.contentType().toLowerCase(Locale.ROOT);
        String yaml;
        if (type.startsWith("application/yaml") || type.startsWith("application/x-yaml")
                || type.startsWith("text/yaml") || type.startsWith("text/plain")) {
            if (r.body().length == 0) {
                throw ApiProblem.badRequest("missing_body", "request body: empty (expected: a policy document)");
            }
            checkSize(r.body().length);
            try {
                yaml = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(r.body())).toString();
            } catch (CharacterCodingException e) {
                throw ApiProblem.badRequest("malformed_body", "request body: not UTF-8");
            }
        } else {
            PolicyUpload upload = r.json(PolicyUpload.class);
            if (upload.yaml() == null || upload.yaml().isEmpty()) {
                throw ApiProblem.badRequest("missing_field", "yaml: missing (expected: the policy document as a string)");
            }
            yaml = upload.yaml();
            checkSize(yaml.getBytes(StandardCharsets.UTF_8).length);
        }
        return yaml;
    }

    private static void checkSize(int bytes) {
        if (bytes > MAX_POLICY_BYTES) {
            throw new ApiProblem(413, "policy_too_large", "Payload too large", "policy document: " + bytes
                    + " bytes (expected: <= " + MAX_POLICY_BYTES + ")");
        }
    }

    private static Policy parseOrProblem(String yaml) {
        try {
            return Policy.parse(yaml);
        } catch (PolicyException e) {
            throw invalid(e);
        }
    }

    private static ApiProblem invalid(PolicyException e) {
        List<String> problems = e.problems();
        return new ApiProblem(400, "invalid_policy", "Bad request", "the policy document has " + problems.size()
                + (problems.size() == 1 ? " problem" : " problems") + ": " + String.join("; ", problems), problems);
    }

    /** A stored version compiled again; it was valid when stored, so a failure is this build refusing it. */
    private static Policy compileStored(PolicyVersionRecord r) {
        try {
            return Policy.parse(r.yaml());
        } catch (PolicyException e) {
            throw new ApiProblem(409, "stored_policy_invalid", "Conflict", "the current policy " + r.version()
                    + " (" + r.digest() + ") no longer compiles: " + String.join("; ", e.problems()));
        }
    }

    private Optional<PolicyPayload> latestLogged() {
        Optional<RevisionRecord> r = store.latestRevisionOfKind(WatchEvent.POLICY);
        if (r.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Json.mapper().readValue(r.get().payloadJson(), PolicyPayload.class));
        } catch (JsonProcessingException e) {
            return Optional.empty(); // unreadable: publish the current policy again
        }
    }

    static PolicyPayload payload(PolicyVersionRecord r) {
        return new PolicyPayload(r.version(), r.digest(), r.yaml());
    }

    static PolicyView view(PolicyVersionRecord r, boolean withYaml) {
        return new PolicyView(r.id(), r.version(), r.digest(), r.uploadedBy(), r.uploadedAt(), r.activatedAt(),
                r.current(), withYaml ? r.yaml() : null);
    }
}
