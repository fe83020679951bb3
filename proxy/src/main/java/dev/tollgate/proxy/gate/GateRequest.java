package dev.tollgate.proxy.gate;

import java.util.Optional;

import io.netty.handler.codec.http.HttpRequest;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.metrics.Direction;

/**
 * What a {@link RequestGate} sees of one request: its direction, the parsed request line and headers (the body has
 * not been read yet), the verified peer identity (ingress) and the sidecar's own identity.
 *
 * @param peer the peer's SPIFFE ID from its verified certificate; empty on egress (the local agent is the caller)
 * @param own  this sidecar's SPIFFE ID from its current certificate; empty while none is loaded
 */
public record GateRequest(Direction direction, HttpRequest request, Optional<SpiffeId> peer, Optional<SpiffeId> own) {
}
