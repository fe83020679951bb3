package dev.tollgate.controlplane.ca;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;

import dev.tollgate.api.tls.Pem;

/**
 * An X.509-SVID that passed {@link SvidValidator}.
 *
 * @param leaf  the certificate
 * @param chain the leaf, its CA and any intermediates above it; never the trust anchor
 * @param caId  the id of the CA that signed it (for {@code SvidRecord.caId})
 */
public record IssuedCertificate(X509Certificate leaf, List<X509Certificate> chain, String caId) {
    public IssuedCertificate {
        Objects.requireNonNull(leaf, "leaf");
        chain = List.copyOf(chain);
        Objects.requireNonNull(caId, "caId");
    }

    /** The chain as PEM, leaf first: what a TLS server presents. */
    public String chainPem() {
        return Pem.encodeCertificates(chain);
    }
}
