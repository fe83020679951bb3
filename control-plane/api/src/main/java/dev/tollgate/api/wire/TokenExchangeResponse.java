package dev.tollgate.api.wire;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

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
    /** The content type of the request ({@link #requestForm}). */
    public static final String FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";

    /**
     * The RFC 8693 §2.1 request body for exchanging {@code subjectToken} (a task token) for a token bound to
     * {@code audience} (a SPIFFE ID), UTF-8 and URL-encoded, sent as {@link #FORM_CONTENT_TYPE}.
     *
     * @param scope space-separated tools, or null for the whole task scope
     */
    public static byte[] requestForm(String subjectToken, String audience, String scope) {
        StringBuilder form = new StringBuilder("grant_type=").append(enc(GRANT_TYPE))
                .append("&subject_token=").append(enc(subjectToken))
                .append("&subject_token_type=").append(enc(JWT_TOKEN_TYPE))
                .append("&audience=").append(enc(audience));
        if (scope != null) {
            form.append("&scope=").append(enc(scope));
        }
        return form.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
