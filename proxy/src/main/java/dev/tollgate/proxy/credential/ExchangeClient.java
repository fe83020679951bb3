package dev.tollgate.proxy.credential;

import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.TokenExchangeResponse;

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

    /** A token issued by the exchange, and when it expires. */
    record ExchangedToken(String token, Instant expiresAt) {
        public ExchangedToken {
            Objects.requireNonNull(token, "token");
            Objects.requireNonNull(expiresAt, "expiresAt");
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
     * {@code POST /v1/token/exchange} over mTLS. The client is asked of {@code client} on every call, so the
     * sidecar's current (renewed) SVID is presented; the call runs on {@code executor}.
     */
    public static ExchangeClient controlPlane(Supplier<ControlPlaneClient> client, Executor executor, Clock clock) {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(clock, "clock");
        return (taskToken, audience, scope) -> CompletableFuture.supplyAsync(() -> {
            try {
                TokenExchangeResponse r = client.get().exchangeToken(taskToken, audience, scope);
                if (r == null || r.accessToken() == null || r.expiresIn() <= 0) {
                    throw new ExchangeException(DenyReason.EXCHANGE_UNAVAILABLE, "exchange answered no token", null);
                }
                return new ExchangedToken(r.accessToken(), clock.instant().plusSeconds(r.expiresIn()));
            } catch (ControlPlaneException e) {
                throw new ExchangeException(reasonOf(e), "exchange refused: " + e.reason(), e);
            } catch (UncheckedIOException | IllegalStateException e) {
                throw new ExchangeException(DenyReason.EXCHANGE_UNAVAILABLE, "exchange failed: " + e.getMessage(), e);
            }
        }, executor);
    }

    /** RFC 6749 error codes of the exchange endpoint to denial reasons. */
    static DenyReason reasonOf(ControlPlaneException e) {
        if (e.status() >= 500) {
            return DenyReason.EXCHANGE_UNAVAILABLE;
        }
        return switch (e.reason()) {
            case "invalid_target" -> DenyReason.UNKNOWN_TOOL;
            case "invalid_scope" -> DenyReason.TOOL_NOT_IN_SCOPE;
            default -> DenyReason.EXCHANGE_REFUSED;
        };
    }
}
