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

/**
 * Turns a connection's client certificate chain into a {@link Principal}: the chain must lead to the current trust
 * bundle and the leaf must be an X.509-SVID of this trust domain. Operators are SPIFFE IDs under /operator/ and
 * carry their role in the certificate.
 */
public final class Authenticator {
    private final SpiffeTrustManager verifier;

    public Authenticator(Supplier<? extends Collection<X509Certificate>> bundle, String trustDomain) {
        this.verifier = new SpiffeTrustManager(bundle, id -> id.memberOf(trustDomain));
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
        if (id.kind() == SpiffeId.Kind.OPERATOR) {
            return new Principal.Operator(id, role(chain[0]));
        }
        return new Principal.Workload(id, chain[0].getNotAfter().toInstant());
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
