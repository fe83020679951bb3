package dev.tollgate.api.wire;

import java.time.Instant;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One line of the watch stream ({@code GET /v1/watch?after=N}, newline-delimited JSON): a revision of what sidecars
 * must know. Revisions are numbered, strictly increasing, shared by all control-plane replicas.
 *
 * @param revision the revision number; for {@link #HEARTBEAT} the latest revision at the time
 * @param kind     what changed: {@link #BUNDLE}, {@link #SIGNING_KEYS}, {@link #REVOCATION}, {@link #POLICY},
 *                 {@link #AUDIT_CHECKPOINT_KEYS}, {@link #AUDIT_CHECKPOINT}, {@link #EXCEPTION},
 *                 {@link #UPSTREAM_SECRET}, or the stream's own {@link #RESYNC} and
 *                 {@link #HEARTBEAT}
 * @param payload  the kind's JSON; for RESYNC an object with one member per kind holding its full current state
 */
public record WatchEvent(long revision, String kind, Instant at, JsonNode payload) {
    /** The trust bundle: {@code {"sequence": n, "pem": "..."}}. */
    public static final String BUNDLE = "bundle";
    /** The token signing key set (JWKS). */
    public static final String SIGNING_KEYS = "signing_keys";
    /** A revocation (by token id, task, SPIFFE ID or signing key). */
    public static final String REVOCATION = "revocation";
    /** A policy version. */
    public static final String POLICY = "policy";
    /** The keys that sign audit checkpoints ({@code CheckpointKeySet}). */
    public static final String AUDIT_CHECKPOINT_KEYS = "audit_checkpoint_keys";
    /** A signed checkpoint of the audit chain head ({@code AuditCheckpointView}). */
    public static final String AUDIT_CHECKPOINT = "audit_checkpoint";
    /** An exception was created, approved, reviewed or revoked: payload {@code ExceptionGrant}. */
    public static final String EXCEPTION = "exception";
    /**
     * An upstream secret was put, rotated or deleted: payload {@code {"name","workload","upstream","version",
     * "deleted"}} (never the value); the workload's sidecar refetches it.
     */
    public static final String UPSTREAM_SECRET = "upstream_secret";
    /** The watcher was too far behind (or ahead): payload is the full state; continue after this revision. */
    public static final String RESYNC = "resync";
    /** Nothing new; the stream is alive. */
    public static final String HEARTBEAT = "heartbeat";
}
