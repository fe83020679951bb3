package dev.tollgate.controlplane.ca;

import java.util.Objects;
import java.util.Optional;

/**
 * A CA the operator brings instead of letting Tollgate generate one.
 *
 * @param certificateChainPem the signing CA certificate first, then any intermediates above it (the root may be
 *                            last)
 * @param privateKeyPem       the signing CA's unencrypted private key (PKCS#8 or SEC1 PEM); Tollgate stores it
 *                            encrypted under the KEK
 * @param rootPem             the root that goes in the trust bundle; required when the CA is an intermediate and
 *                            the chain does not end with its root, empty when the CA is itself a root
 */
public record ProvidedCa(String certificateChainPem, String privateKeyPem, Optional<String> rootPem) {
    public ProvidedCa {
        Objects.requireNonNull(certificateChainPem, "certificateChainPem");
        Objects.requireNonNull(privateKeyPem, "privateKeyPem");
        Objects.requireNonNull(rootPem, "rootPem");
    }

    @Override
    public String toString() {
        return "ProvidedCa[chain=" + certificateChainPem.length() + " chars, key=redacted, root="
                + rootPem.map(r -> r.length() + " chars").orElse("none") + "]";
    }
}
