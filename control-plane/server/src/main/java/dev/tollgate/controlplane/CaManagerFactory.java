package dev.tollgate.controlplane;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;

import dev.tollgate.controlplane.ca.CaKeyException;
import dev.tollgate.controlplane.ca.CaKeyType;
import dev.tollgate.controlplane.ca.CaManager;
import dev.tollgate.controlplane.ca.CaSettings;
import dev.tollgate.controlplane.ca.KeyEncryption;
import dev.tollgate.controlplane.ca.ProvidedCa;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.controlplane.store.Store;

/** Builds and starts the CA from configuration: the KEK, the schedule, and an operator-provided CA if any. */
final class CaManagerFactory {
    private CaManagerFactory() {
    }

    /** The key sealing of the CA's and the token signing keys' private keys, from the configured KEK. */
    static KeyEncryption sealing(ControlPlaneConfig cfg, Map<String, String> env) {
        return new KeyEncryption(KeyEncryption.load(cfg.kekFile(), env));
    }

    static CaManager create(ControlPlaneConfig cfg, Store store, KeyEncryption keys, Clock clock) {
        var c = cfg.ca();
        CaSettings settings = new CaSettings(c.ttl(), CaKeyType.EC_P256, c.backdate(), c.prepareAt(), c.activateAt(),
                c.activationDelay(), c.bundleRefreshHint());
        CaManager ca = new CaManager(store, clock, cfg.trustDomain(), settings, keys);
        Optional<ProvidedCa> provided = c.providedCert().map(cert -> new ProvidedCa(read(cert, "ca.provided-cert"),
                read(c.providedKey().orElseThrow(), "ca.provided-key"),
                c.providedRoot().map(r -> read(r, "ca.provided-root"))));
        ca.start(provided);
        return ca;
    }

    private static String read(Path p, String option) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new CaKeyException(option + ": cannot read " + p + " (" + e.getClass().getSimpleName() + ")", e);
        }
    }
}
