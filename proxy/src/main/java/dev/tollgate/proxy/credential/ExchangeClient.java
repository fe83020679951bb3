package dev.tollgate.proxy.credential;

import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

import io.netty.util.AsciiString;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.wire.TokenExchangeResponse;
import dev.tollgate.proxy.controlplane.ControlPlaneTransport;

/**
 * RFC 8693 token exchange of a task token for a token bound to one tool service. Never blocks the caller: the
 * stage completes from another thread. A failure completes the stage with an {@link ExchangeException} naming the
 * denial reason.
 */
@FunctionalInterface
public interface ExchangeClient {

    /**
     * @param taskToken the agent's verified task token
     * @param audience  the tool service's SPIFFE ID
     * @param scope     space-separated tool names (a subset of the task's), or null for the whole task scope
     */
    CompletionStage<ExchangedToken> exchange(String taskToken, SpiffeId audience, String scope);

    /**
     * A token issued by the exchange, and when it expires.
     *
     * @param headerValue the token as the bytes the forwarder sets as {@code tollgate-token}, made once per exchanged
     *                    token: every request that reuses it skips converting, re-checking and re-hashing ~700 chars
     */
    record ExchangedToken(String token, Instant expiresAt, AsciiString headerValue) {
        public ExchangedToken {
            Objects.requireNonNull(token, "token");
            Objects.requireNonNull(expiresAt, "expiresAt");
            Objects.requireNonNull(headerValue, "headerValue");
        }

        /**
         * @throws IllegalArgumentException when the token is not a compact JWS ({@link TokenVerifier#isCompactJws}): its
         *                                  characters go into the head as bytes, as they are
         */
        ExchangedToken(String token, Instant expiresAt) {
            this(token, expiresAt, headerBytes(token));
        }

        private static AsciiString headerBytes(String token) {
            if (!TokenVerifier.isCompactJws(token)) {
                throw new IllegalArgumentException("not a compact JWS");
            }
            return new AsciiString(token);
        }

        @Override
        public String toString() {
            return "ExchangedToken[expiresAt=" + expiresAt + "]";
        }
    }

    /** Why an exchange did not give a token, as a denial reason. */
    final class ExchangeException extends RuntimeException {
        private final DenyReason reason;

        public ExchangeException(DenyReason reason, String message, Throwable cause) {
            super(message, cause, false, false);
            this.reason = reason;
        }

        public DenyReason reason() {
            return reason;
        }
    }

    /**
     * {@code POST /v1/token/exchange} over the sidecar's control-plane transport with its current SVID (so a renewed
     * SVID is presented); the stage completes on the transport's event loop, within the transport's deadline.
     */
    public static ExchangeClient controlPlane(ControlPlaneTransport transport, Clock clock) {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(clock, "clock");
        return (taskToken, audience, scope) -> {
            CompletableFuture<TokenExchangeResponse> call;
            try {
                call = transport.call(ControlPlaneTransport.Identity.WORKLOAD, "POST", "/v1/token/exchange",
                        TokenExchangeResponse.FORM_CONTENT_TYPE,
                        TokenExchangeResponse.requestForm(taskToken, audience.toString(), scope),
                        TokenExchangeResponse.class, null);
            } catch (RuntimeException e) {
                call = CompletableFuture.failedFuture(e);
            }
            return call.handle((r, err) -> {
                Throwable e = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
                if (e instanceof ControlPlaneException cpe) {
                    throw new ExchangeException(reasonOf(cpe), "exchange refused: " + cpe.reason(), cpe);
                }
                if (e != null) {
                    throw new ExchangeException(DenyReason.EXCHANGE_UNAVAILABLE, "exchange failed: " + e.getMessage(),
                            e);
                }
                if (r == null || r.accessToken() == null || r.expiresIn() <= 0) {
                    throw new ExchangeException(DenyReason.EXCHANGE_UNAVAILABLE, "exchange answered no token", null);
                }
                try {
                    return new ExchangedToken(r.accessToken(), clock.instant().plusSeconds(r.expiresIn()));
                } catch (IllegalArgumentException notJws) {
                    throw new ExchangeException(DenyReason.EXCHANGE_UNAVAILABLE,
                            "exchange answered a token that is not a compact JWS", notJws);
                }
            });
        };
    }

    /**
     * RFC 6749 error codes of the exchange endpoint to denial reasons; the control plane's own trouble (5xx) and its
     * rate limit (429) are "unavailable": the agent may retry, nothing about its credential was refused.
     */
    static DenyReason reasonOf(ControlPlaneException e) {
        if (e.status() >= 500 || e.status() == 429) {
            return DenyReason.EXCHANGE_UNAVAILABLE;
        }
        return switch (e.reason()) {
            case "invalid_target" -> DenyReason.UNKNOWN_TOOL;
            case "invalid_scope" -> DenyReason.TOOL_NOT_IN_SCOPE;
            default -> DenyReason.EXCHANGE_REFUSED;
        };
    }
}
