package dev.tollgate.api.wire;

import java.util.List;

/** The payload of an {@code audit_checkpoint_keys} revision: every key whose checkpoints verify. */
public record CheckpointKeySet(List<CheckpointKeyView> keys) {
    public CheckpointKeySet {
        keys = keys == null ? List.of() : List.copyOf(keys);
    }
}
