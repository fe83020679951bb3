package dev.tollgate.controlplane.watch;

import java.util.ArrayList;
import java.util.List;

/** A {@link RevisionPublisher} for tests: remembers every publication in order. Test support (test-jar). */
public final class RecordingPublisher implements RevisionPublisher {
    /** One publication. */
    public record Published(long revision, String kind, Object payload) {
    }

    private final List<Published> published = new ArrayList<>();

    @Override
    public synchronized long publish(String kind, Object payload) {
        long revision = published.size() + 1;
        published.add(new Published(revision, kind, payload));
        return revision;
    }

    public synchronized List<Published> all() {
        return List.copyOf(published);
    }

    /** The payloads of one kind, oldest first. */
    public synchronized List<Object> of(String kind) {
        return published.stream().filter(p -> p.kind().equals(kind)).map(Published::payload).toList();
    }
}
