package dev.tollgate.api.token;

import java.util.List;

/** Names shared by the issuer (control plane) and the verifier (sidecar). */
public final class TokenClaims {
    /** The HTTP request header that carries a Tollgate token between an agent, its sidecar and a tool's sidecar. */
    public static final String HEADER = "tollgate-token";
    /** The only signature algorithm the control plane signs with. */
    public static final String ALGORITHM = "ES256";
    public static final String TASK_ID = "task_id";
    public static final String SCOPE = "scope";
    /** Every claim a Tollgate token must carry. */
    public static final List<String> REQUIRED = List.of("iss", "sub", "aud", "jti", "iat", "nbf", "exp", TASK_ID, SCOPE);

    private TokenClaims() {
    }

    /** The issuer of every Tollgate token of a trust domain: the control plane's SPIFFE ID. */
    public static String issuer(String trustDomain) {
        return "spiffe://" + trustDomain + "/tollgate/control-plane";
    }
}
