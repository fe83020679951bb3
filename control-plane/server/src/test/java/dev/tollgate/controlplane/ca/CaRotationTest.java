package dev.tollgate.controlplane.ca;

import static dev.tollgate.controlplane.ca.CaTestSupport.TD;
import static org.assertj.core.api.Assertions.assertThat;

import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.controlplane.store.CaRecord;
import dev.tollgate.controlplane.store.CaState;

class CaRotationTest {
    private final MutableClock clock = MutableClock.atNow();
    private final InMemoryCaSlotRepository repo = new InMemoryCaSlotRepository();
    private final CaSettings settings = CaSettings.defaults();
    private final SpiffeId agent = SpiffeId.parse("spiffe://" + TD + "/agent/planner");
    private final PublicKey key = CaKeyType.EC_P256.generate().getPublic();

    private IssuedCertificate issue(CaManager ca, Duration ttl) {
        IssuedCertificate issued = ca.issue(agent, key, ttl, Optional.empty());
        repo.record(issued);
        return issued;
    }

    private Instant at(CaRecord ca, double fraction) {
        long life = Duration.between(ca.notBefore(), ca.notAfter()).toMillis();
        return ca.notBefore().plusMillis((long) (life * fraction));
    }

    private static List<String> ids(TrustBundle b, CaManager ca) {
        List<String> out = new ArrayList<>();
        for (X509Certificate c : b.anchors()) {
            out.add(dev.tollgate.api.tls.Svids.fingerprint(c.getPublicKey()));
        }
        return out;
    }

    @Test
    void movesThroughPreparedActiveOldRetiredWithStrictlyIncreasingSequence() {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        CaRecord a = repo.caRecords().get(0);
        List<Long> sequences = new ArrayList<>(List.of(ca.bundle().sequence()));

        clock.set(at(a, 0.49));
        assertThat(ca.tick()).isEmpty();

        clock.set(at(a, 0.5));
        assertThat(ca.tick()).singleElement().satisfies(t -> assertThat(t.to()).isEqualTo(CaState.PREPARED));
        CaRecord b = repo.caRecords().get(1);
        assertThat(b.state()).isEqualTo(CaState.PREPARED);
        assertThat(ids(ca.bundle(), ca)).containsExactly(a.id(), b.id());
        sequences.add(ca.bundle().sequence());
        assertThat(issue(ca, Duration.ofHours(1)).caId()).as("a prepared CA never signs").isEqualTo(a.id());

        clock.set(at(a, 0.75).minusSeconds(3600));
        IssuedCertificate lastOfA = issue(ca, Duration.ofHours(2));
        assertThat(lastOfA.caId()).isEqualTo(a.id());

        clock.set(at(a, 0.75));
        List<CaTransition> activation = ca.tick();
        assertThat(activation).extracting(CaTransition::caId, CaTransition::to)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(b.id(), CaState.ACTIVE),
                        org.assertj.core.groups.Tuple.tuple(a.id(), CaState.OLD));
        assertThat(ca.bundle().sequence()).as("activation does not change the anchors").isEqualTo(sequences.get(1));
        assertThat(issue(ca, Duration.ofMinutes(5)).caId()).isEqualTo(b.id());
        assertThat(ca.activeNotAfter()).contains(b.notAfter());

        clock.set(lastOfA.leaf().getNotAfter().toInstant().minusSeconds(1));
        assertThat(ca.tick()).isEmpty();
        assertThat(ids(ca.bundle(), ca)).as("old CA stays while a leaf it signed is valid").contains(a.id());
        assertThat(new SpiffeTrustManagerCheck(ca, clock).accepts(lastOfA)).isTrue();

        clock.set(lastOfA.leaf().getNotAfter().toInstant());
        assertThat(ca.tick()).singleElement().satisfies(t -> {
            assertThat(t.caId()).isEqualTo(a.id());
            assertThat(t.to()).isEqualTo(CaState.RETIRED);
        });
        assertThat(ids(ca.bundle(), ca)).containsExactly(b.id());
        sequences.add(ca.bundle().sequence());
        assertThat(sequences).isSorted().doesNotHaveDuplicates();
        assertThat(ca.status()).extracting(CaSlot::state).containsExactly(CaState.RETIRED, CaState.ACTIVE);
    }

    @Test
    void nextCaIsInTheBundleBeforeItSignsAnything() {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        Map<String, Instant> firstPublished = new HashMap<>();
        long lastSequence = -1;
        List<String> anchorsAtLastSequence = List.of();
        int signers = 0;
        String lastSigner = null;
        Instant end = clock.instant().plus(Duration.ofDays(75));
        while (clock.instant().isBefore(end)) {
            ca.tick();
            TrustBundle bundle = ca.bundle();
            List<String> anchors = ids(bundle, ca);
            if (!anchors.equals(anchorsAtLastSequence)) {
                assertThat(bundle.sequence()).as("every bundle change bumps the sequence").isGreaterThan(lastSequence);
            }
            lastSequence = bundle.sequence();
            anchorsAtLastSequence = anchors;
            for (String id : anchors) {
                firstPublished.putIfAbsent(id, clock.instant());
            }
            IssuedCertificate issued = issue(ca, Duration.ofMinutes(30));
            String signer = issued.caId();
            CaRecord record = repo.ca(signer);
            assertThat(record.state()).as("only the active CA signs").isEqualTo(CaState.ACTIVE);
            if (lastSigner != null && !signer.equals(lastSigner)) {
                signers++;
                assertThat(firstPublished.get(signer)).as("CA %s was published before it signed", signer)
                        .isBefore(clock.instant().minus(settings.activationDelay()));
            }
            lastSigner = signer;
            clock.advance(Duration.ofHours(2));
        }
        // a 30-day CA is prepared at its predecessor's 50% and signs from 7.5 to 22.5 days of its own life:
        // rotations at days 22.5, 37.5, 52.5 and 67.5
        assertThat(signers).as("rotations seen in 75 days of 30-day CAs").isEqualTo(4);
        assertThat(repo.caRecords()).extracting(CaRecord::state).contains(CaState.RETIRED);
    }

    @Test
    void preparedCaWaitsTheActivationDelayEvenWhenActivationIsOverdue() {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        CaRecord a = repo.caRecords().get(0);

        clock.set(at(a, 0.9));
        ca.tick();
        CaRecord b = repo.caRecords().get(1);
        assertThat(b.state()).isEqualTo(CaState.PREPARED);
        assertThat(issue(ca, Duration.ofMinutes(5)).caId()).isEqualTo(a.id());

        clock.advance(settings.activationDelay().minusSeconds(1));
        ca.tick();
        assertThat(issue(ca, Duration.ofMinutes(5)).caId()).isEqualTo(a.id());

        clock.advance(Duration.ofSeconds(1));
        ca.tick();
        assertThat(issue(ca, Duration.ofMinutes(5)).caId()).isEqualTo(b.id());
    }

    @Test
    void forcedRotationPublishesNowAndActivatesAfterTheDelay() {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        CaRecord a = repo.caRecords().get(0);
        long before = ca.bundle().sequence();
        Instant now = clock.instant();

        RotationPlan plan = ca.forceRotate();

        assertThat(plan.activeCaId()).isEqualTo(a.id());
        assertThat(plan.preparedAt()).isEqualTo(now);
        assertThat(plan.activatesAt()).isEqualTo(now.plus(settings.activationDelay()));
        assertThat(plan.bundleSequence()).isEqualTo(before + 1).isEqualTo(ca.bundle().sequence());
        assertThat(ids(ca.bundle(), ca)).containsExactly(a.id(), plan.preparedCaId());
        assertThat(issue(ca, Duration.ofMinutes(5)).caId()).isEqualTo(a.id());

        clock.advance(settings.activationDelay().minusMillis(1));
        assertThat(ca.tick()).isEmpty();
        clock.advance(Duration.ofMillis(1));
        ca.tick();

        assertThat(issue(ca, Duration.ofMinutes(5)).caId()).isEqualTo(plan.preparedCaId());
        assertThat(repo.ca(a.id()).state()).isEqualTo(CaState.OLD);
    }

    @Test
    void forcedRotationCompletesAfterARestart() {
        CaManager first = CaTestSupport.started(repo, clock, settings);
        RotationPlan plan = first.forceRotate();

        CaManager second = CaTestSupport.started(repo, clock, settings);
        clock.set(plan.activatesAt());
        second.tick();

        assertThat(issue(second, Duration.ofMinutes(5)).caId()).isEqualTo(plan.preparedCaId());
    }

    @Test
    void forcedRotationActivatesAnAlreadyPublishedPreparedCaAtTheNextTick() {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        clock.set(at(repo.caRecords().get(0), 0.6));
        ca.tick();
        CaRecord b = repo.caRecords().get(1);
        long sequence = ca.bundle().sequence();
        clock.advance(Duration.ofMinutes(1));

        RotationPlan plan = ca.forceRotate();

        assertThat(plan.preparedCaId()).isEqualTo(b.id());
        assertThat(plan.bundleSequence()).isEqualTo(sequence);
        assertThat(plan.activatesAt()).isEqualTo(clock.instant());
        ca.tick();
        assertThat(issue(ca, Duration.ofMinutes(5)).caId()).isEqualTo(b.id());
    }

    @Test
    void oldCaThatSignedNothingRetiresAfterTheDelay() {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        String a = repo.caRecords().get(0).id();
        ca.forceRotate();
        clock.advance(settings.activationDelay());
        ca.tick();
        assertThat(repo.ca(a).state()).isEqualTo(CaState.OLD);
        long sequence = ca.bundle().sequence();

        clock.advance(settings.activationDelay());
        ca.tick();

        assertThat(repo.ca(a).state()).isEqualTo(CaState.RETIRED);
        assertThat(ca.bundle().anchors()).hasSize(1);
        assertThat(ca.bundle().sequence()).isEqualTo(sequence + 1);
    }

    @Test
    void refreshPicksUpARotationMadeByAnotherReplica() {
        CaManager one = CaTestSupport.started(repo, clock, settings);
        CaManager two = CaTestSupport.started(repo, clock, settings);
        String a = repo.caRecords().get(0).id();
        RotationPlan plan = one.forceRotate();
        clock.advance(settings.activationDelay());
        one.tick();
        assertThat(issue(two, Duration.ofMinutes(5)).caId()).as("before refresh").isEqualTo(a);

        two.refresh();

        assertThat(issue(two, Duration.ofMinutes(5)).caId()).isEqualTo(plan.preparedCaId());
        assertThat(two.bundle()).isEqualTo(one.bundle());
    }

    @Test
    void leafLifetimeIsCappedAtTheIssuingCaNotAfter() {
        CaSettings shortCa = settings.withCaTtl(Duration.ofHours(1));
        CaManager ca = CaTestSupport.started(repo, clock, shortCa);
        Instant caNotAfter = repo.caRecords().get(0).notAfter();
        clock.advance(Duration.ofMinutes(20));

        IssuedCertificate issued = issue(ca, Duration.ofHours(2));

        assertThat(issued.leaf().getNotAfter().toInstant()).isEqualTo(caNotAfter);
    }

    /** Accepts a leaf the way a sidecar does: through the SPIFFE trust manager and the current bundle. */
    private record SpiffeTrustManagerCheck(CaManager ca, MutableClock clock) {
        boolean accepts(IssuedCertificate issued) {
            try {
                new dev.tollgate.api.tls.SpiffeTrustManager(() -> ca.bundle().anchors(), id -> true,
                        () -> java.util.Date.from(clock.instant())).verify(issued.chain().toArray(new X509Certificate[0]));
                return true;
            } catch (java.security.cert.CertificateException e) {
                return false;
            }
        }
    }
}
