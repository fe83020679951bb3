package dev.tollgate.api.wire;

import com.fasterxml.jackson.annotation.JsonProperty;

/** An RFC 6749 §5.2 error response, as the token exchange endpoint answers it. */
public record OAuthError(@JsonProperty("error") String error,
                         @JsonProperty("error_description") String errorDescription) {
}
