package dev.tollgate.controlplane.store;

import java.time.Instant;

/** One entry of the revision log: its number, its kind (as in {@code WatchEvent}), its JSON payload, when appended. */
public record RevisionRecord(long revision, String kind, String payloadJson, Instant createdAt) {
}
