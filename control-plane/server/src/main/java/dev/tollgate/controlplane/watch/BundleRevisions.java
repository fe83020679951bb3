package dev.tollgate.controlplane.watch;

import java.util.Optional;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.ca.CaManager;
import dev.tollgate.controlplane.ca.TrustBundle;
import dev.tollgate.controlplane.store.RevisionRecord;
import dev.tollgate.controlplane.store.Store;

/**
 * Publishes a {@code bundle} revision whenever the CA's bundle sequence changes, once per sequence across replicas:
 * before appending it checks the latest bundle revision in the log (two replicas racing may both append one; a
 * sidecar applies a bundle by its sequence, so the second is harmless). Called inside a CA change's transaction,
 * the revision commits with it. Also the bundle's snapshot source.
 */
public final class BundleRevisions implements SnapshotSource {
    /** The payload of a bundle revision. */
    public record BundlePayload(long sequence, String pem) {
    }

    private final CaManager ca;
    private final Store store;
    private final RevisionPublisher publisher;
    private volatile long published = -1;

    public BundleRevisions(CaManager ca, Store store, RevisionPublisher publisher) {
        this.ca = ca;
        this.store = store;
        this.publisher = publisher;
    }

    /** Publishes the CA's bundle when the log does not hold its sequence (or a later one); true when it did. */
    public boolean publishIfChanged() {
        // the transaction first, then this object's lock: the order every writer takes them in
        return store.inTransaction("publish the trust bundle", () -> {
            synchronized (this) {
                TrustBundle b = ca.bundle();
                if (b.sequence() == published) {
                    return false;
                }
                long logged = latestLogged().map(BundlePayload::sequence).orElse(-1L);
                if (logged < b.sequence()) {
                    publisher.publish(WatchEvent.BUNDLE, new BundlePayload(b.sequence(), b.pem()));
                }
                store.afterCommit(() -> published = b.sequence());
                return logged < b.sequence();
            }
        });
    }

    @Override
    public String kind() {
        return WatchEvent.BUNDLE;
    }

    /** The newer of this replica's bundle and the latest logged one (another replica may have rotated first). */
    @Override
    public Object snapshot() {
        TrustBundle b = ca.bundle();
        BundlePayload own = new BundlePayload(b.sequence(), b.pem());
        return latestLogged().filter(l -> l.sequence() > own.sequence()).orElse(own);
    }

    private Optional<BundlePayload> latestLogged() {
        Optional<RevisionRecord> r = store.latestRevisionOfKind(WatchEvent.BUNDLE);
        if (r.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Json.mapper().readValue(r.get().payloadJson(), BundlePayload.class));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("bundle revision " + r.get().revision() + " is unreadable: "
                    + e.getOriginalMessage(), e);
        }
    }
}
