package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.testing.TestPki;

/** The exchange's control-plane client follows SVID renewal: rebuilt for a new leaf, reused otherwise. */
class SvidClientsTest {
    @Test
    void rebuildsTheClientOnlyWhenTheSvidChanges() {
        TestPki pki = TestPki.create("example.org");
        TestPki.Issued first = pki.svid("agent/bot");
        TestPki.Issued renewed = pki.svid("agent/bot");
        AtomicReference<TestPki.Issued> current = new AtomicReference<>(first);
        Supplier<ControlPlaneClient> clients = SvidClients.following(URI.create("https://127.0.0.1:1"),
                () -> List.of(pki.caCert), SpiffeId.parse("spiffe://example.org/tollgate/control-plane"),
                () -> new WatchClient.Credentials(current.get().key(), current.get().chain()));

        ControlPlaneClient a = clients.get();
        assertThat(clients.get()).isSameAs(a);
        current.set(renewed);
        ControlPlaneClient b = clients.get();
        assertThat(b).isNotSameAs(a);
        assertThat(clients.get()).isSameAs(b);
    }
}
