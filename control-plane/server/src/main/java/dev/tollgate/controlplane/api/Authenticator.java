package dev.tollgate.controlplane.api;

import java.io.IOException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.function.Supplier;

import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.ASN1UTF8String;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.tls.Svids;

/**
 * Turns a connection's client certificate chain into a {@link Principal}: the chain must lead to the current trust
 * bundle and the leaf must be an X.509-SVID of this trust domain. Operators are SPIFFE IDs under /operator/ and
 * carry their role in the certificate.
 */
public final class Authenticator {
    /** Answers, from memory, whether an identity is revoked; checked on every request of a protected route. */
    public interface RevocationCheck {
        /** False while the revocation state cannot be known (the revision log unread for too long): fail closed. */
        boolean known();

        boolean revoked(SpiffeId id);
    }

    private final SpiffeTrustManager verifier;
    private final Supplier<? extends Collection<X509Certificate>> issuers;
    private final RevocationCheck revocations;

    /** An authenticator whose trust bundle's CAs are the only issuers (a generated root CA). */
    public Authenticator(Supplier<? extends Collection<X509Certificate>> bundle, String trustDomain,
                         RevocationCheck revocations) {
        this(bundle, bundle, trustDomain, revocations);
    }

    /**
     * @param issuers this control plane's own CA certificates (CaManager.issuingCertificates): a client leaf must be
     *                signed by one of them, not only lead to the bundle (whose anchor may be an outside root that
     *                other CAs chain to as well)
     */
    public Authenticator(Supplier<? extends Collection<X509Certificate>> bundle,
                         Supplier<? extends Collection<X509Certificate>> issuers, String trustDomain,
                         RevocationCheck revocations) {
        this.verifier = new SpiffeTrustManager(bundle, id -> id.memberOf(trustDomain));
        this.issuers = java.util.Objects.requireNonNull(issuers, "issuers");
        this.revocations = java.util.Objects.requireNonNull(revocations, "revocations");
    }

    public Principal authenticate(X509Certificate[] chain, String remote) {
        if (chain == null || chain.length == 0) {
            return new Principal.Anonymous(remote);
        }
        SpiffeId id;
        try {
            id = verifier.verify(chain);
        } catch (CertificateException e) {
            return new Principal.Rejected("untrusted_client_certificate", e.getMessage(), remote);
        }
        if (!issuedByOwnCa(chain[0])) {
            return new Principal.Rejected("untrusted_client_certificate", "the client certificate leads to the trust"
                    + " bundle but was not issued by this control plane's CA", remote);
        }
        if (id.kind() == SpiffeId.Kind.OPERATOR) {
            return new Principal.Operator(id, role(chain[0]));
        }
        return new Principal.Workload(id, chain[0].getNotAfter().toInstant(), Svids.serialHex(chain[0]));
    }

    private boolean issuedByOwnCa(X509Certificate leaf) {
        Collection<X509Certificate> own = issuers.get();
        if (own == null) {
            return false;
        }
        for (X509Certificate ca : own) {
            if (!ca.getSubjectX500Principal().equals(leaf.getIssuerX500Principal())) {
                continue;
            }
            try {
                leaf.verify(ca.getPublicKey());
                return true;
            } catch (java.security.GeneralSecurityException e) {
                // another CA of the same name (a rotation keeps the name): try the next
            }
        }
        return false;
    }

    /** The operator role the certificate carries, or null. */
    static OperatorRole role(X509Certificate leaf) {
        byte[] ext = leaf.getExtensionValue(OperatorRole.EXTENSION_OID);
        if (ext == null) {
            return null;
        }
        try {
            ASN1Primitive inner = ASN1Primitive.fromByteArray(ASN1OctetString.getInstance(ext).getOctets());
            return OperatorRole.parse(ASN1UTF8String.getInstance(inner).getString());
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }

    /**
     * Throws the problem when principal may not call a route of this access level: a revoked operator or workload
     * (403 {@code identity_revoked}) on every protected route, 503 {@code revocation_state_unknown} while revocations
     * cannot be known, then {@link #authorize(Principal, Access)}.
     */
    public void authorizeCurrent(Principal principal, Access access) {
        if (access != Access.PUBLIC) {
            SpiffeId id = principal instanceof Principal.Operator op ? op.id()
                    : principal instanceof Principal.Workload w ? w.id() : null;
            if (id != null) {
                if (!revocations.known()) {
                    throw new ApiProblem(503, "revocation_state_unknown", "Service unavailable",
                            "the control plane cannot read its revocations (database unreachable?); retry later");
                }
                if (revocations.revoked(id)) {
                    throw ApiProblem.forbidden("identity_revoked", id + " is revoked; ask an admin for a new credential");
                }
            }
        }
        authorize(principal, access);
    }

    /** Throws the 401 / 403 problem when principal may not call a route of this access level. */
    public static void authorize(Principal principal, Access access) {
        if (access == Access.PUBLIC) {
            return;
        }
        if (principal instanceof Principal.Anonymous) {
            throw ApiProblem.unauthorized("no_client_certificate",
                    "this route needs a client certificate (an operator credential or a workload SVID)");
        }
        if (principal instanceof Principal.Rejected r) {
            throw ApiProblem.unauthorized(r.reason(), r.detail());
        }
        if (access == Access.WORKLOAD) {
            if (!(principal instanceof Principal.Workload)) {
                throw ApiProblem.forbidden("not_a_workload", "this route is for workloads presenting their SVID");
            }
            return;
        }
        if (access == Access.OPERATOR_OR_WORKLOAD && principal instanceof Principal.Workload) {
            return;
        }
        if (!(principal instanceof Principal.Operator op)) {
            throw ApiProblem.forbidden("not_an_operator", "this route needs an operator certificate (spiffe://…/operator/<name>)");
        }
        if (op.role() == null) {
            throw ApiProblem.forbidden("no_role", "the operator certificate carries no role");
        }
        if (!op.role().includes(access.role())) {
            throw ApiProblem.forbidden("insufficient_role", "role " + op.role().wireName() + " (expected: "
                    + access.role().wireName() + " or higher)");
        }
    }
}
