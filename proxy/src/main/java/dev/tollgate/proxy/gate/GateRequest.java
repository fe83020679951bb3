package dev.tollgate.proxy.gate;

import java.util.Optional;

import io.netty.handler.codec.http.HttpRequest;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.metrics.Direction;

/**
 * What a {@link RequestGate} sees of one request: its direction, the parsed request line and headers (and, when the
 * request is inspected, its aggregated body: see {@code dev.tollgate.proxy.inspect}), the verified peer identity
 * (ingress), the sidecar's own identity, and what earlier gates of the chain found out about it.
 *
 * @param peer    the peer's SPIFFE ID from its verified certificate; empty on egress (the local agent is the caller)
 * @param own     this sidecar's SPIFFE ID from its current certificate; empty while none is loaded
 * @param context filled by earlier gates for later ones (the verified credential)
 */
public record GateRequest(Direction direction, HttpRequest request, Optional<SpiffeId> peer, Optional<SpiffeId> own,
                          Context context) {

    public GateRequest(Direction direction, HttpRequest request, Optional<SpiffeId> peer, Optional<SpiffeId> own) {
        this(direction, request, peer, own, new Context());
    }

    /** What the gates of one request tell the later ones; used on one request's chain only. */
    public static final class Context {
        private volatile VerifiedToken token;

        /** The credential the credential gate verified and allowed (task token on egress, exchanged on ingress). */
        public Optional<VerifiedToken> token() {
            return Optional.ofNullable(token);
        }

        public void token(VerifiedToken t) {
            token = t;
        }
    }
}
