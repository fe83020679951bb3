package dev.tollgate.controlplane.ca;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.tollgate.controlplane.store.CaRecord;
import dev.tollgate.controlplane.store.CaState;

/** CA slots in memory, plus what the lead's issuance code would record: the expiry of each issued certificate. */
final class InMemoryCaSlotRepository implements CaSlotRepository {
    private final List<CaRecord> cas = new ArrayList<>();
    private final Map<String, Instant> latestExpiry = new HashMap<>();
    private long sequence;

    @Override
    public synchronized List<CaRecord> caRecords() {
        return List.copyOf(cas);
    }

    @Override
    public synchronized void insertCa(CaRecord ca) {
        if (cas.stream().anyMatch(c -> c.id().equals(ca.id()))) {
            throw new IllegalStateException("duplicate CA " + ca.id());
        }
        cas.add(ca);
    }

    @Override
    public synchronized boolean updateCaState(String caId, CaState state, Instant at) {
        for (int i = 0; i < cas.size(); i++) {
            if (cas.get(i).id().equals(caId)) {
                cas.set(i, cas.get(i).withState(state, at));
                return true;
            }
        }
        return false;
    }

    @Override
    public synchronized long bundleSequence() {
        return sequence;
    }

    @Override
    public synchronized long nextBundleSequence() {
        return ++sequence;
    }

    @Override
    public synchronized Optional<Instant> latestExpiryIssuedBy(String caId) {
        return Optional.ofNullable(latestExpiry.get(caId));
    }

    /** What the control plane does with every issued certificate (it stores an SvidRecord). */
    synchronized void record(IssuedCertificate issued) {
        latestExpiry.merge(issued.caId(), issued.leaf().getNotAfter().toInstant(),
                (a, b) -> a.isAfter(b) ? a : b);
    }

    synchronized CaRecord ca(String id) {
        return cas.stream().filter(c -> c.id().equals(id)).findFirst().orElseThrow();
    }
}
