package dev.tollgate.api.wire;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The RFC 8693 §2.2.1 response of {@code POST /v1/token/exchange}. {@code token_type} is {@code N_A}: the token is
 * not a bearer token (RFC 6750) — it is presented in the Tollgate header and only valid over mTLS as its {@code sub}.
 */
public record TokenExchangeResponse(@JsonProperty("access_token") String accessToken,
                                    @JsonProperty("issued_token_type") String issuedTokenType,
                                    @JsonProperty("token_type") String tokenType,
                                    @JsonProperty("expires_in") long expiresIn,
                                    @JsonProperty("scope") String scope) {
    public static final String GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
    public static final String JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
    public static final String NOT_APPLICABLE = "N_A";
}
