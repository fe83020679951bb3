package dev.tollgate.proxy.metrics;

/** Why the sidecar refused an audit checkpoint from the watch stream (it keeps the one it had). */
public enum CheckpointRefusal {
    /** The payload is not a checkpoint (missing or malformed fields, another format, another trust domain). */
    MALFORMED,
    /** Signed by a key that is not in the checkpoint key set the sidecar received. */
    UNKNOWN_KEY,
    /** The signature does not verify under the key it names. */
    BAD_SIGNATURE,
    /** Its sequence number is below the latest checkpoint the sidecar holds: history going backwards. */
    BACKWARDS,
    /** Same sequence number as the held checkpoint but another head hash: two histories. */
    FORKED;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
