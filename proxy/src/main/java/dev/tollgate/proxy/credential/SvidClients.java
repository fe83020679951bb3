package dev.tollgate.proxy.credential;

import java.net.URI;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.WatchClient;

/**
 * A supplier of a control-plane client that always presents the workload's current SVID: the client is rebuilt
 * (TLS context and all) when the credentials supplier hands out another leaf certificate, and reused otherwise.
 * For {@link ExchangeClient#controlPlane}, next to the identity lifecycle's renewal.
 */
public final class SvidClients {
    private SvidClients() {
    }

    private record Built(X509Certificate leaf, ControlPlaneClient client) {
    }

    public static Supplier<ControlPlaneClient> following(URI controlPlane,
                                                         Supplier<? extends Collection<X509Certificate>> bundle,
                                                         SpiffeId serverId,
                                                         Supplier<WatchClient.Credentials> credentials) {
        Objects.requireNonNull(controlPlane, "controlPlane");
        Objects.requireNonNull(bundle, "bundle");
        Objects.requireNonNull(serverId, "serverId");
        Objects.requireNonNull(credentials, "credentials");
        AtomicReference<Built> current = new AtomicReference<>();
        return () -> {
            WatchClient.Credentials c = credentials.get();
            X509Certificate leaf = c.chain().get(0);
            Built b = current.get();
            if (b == null || !b.leaf().equals(leaf)) {
                b = new Built(leaf, ControlPlaneClient.builder(controlPlane).trustBundle(bundle).serverId(serverId)
                        .clientCertificate(c.chain(), c.key()).build());
                current.set(b);
            }
            return b.client();
        };
    }
}
