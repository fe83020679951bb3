package dev.tollgate.proxy.listener;

import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.credential.Admissions;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.GateRequest;
import dev.tollgate.proxy.forward.LocalAnswer;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.inspect.JsonRpcErrors;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.RequestOutcome;

/**
 * Asks the {@link RequestGate} about each request head before anything of the request reaches the forwarder. While
 * the decision is pending, what follows is held and no further read is requested. A denial forwards nothing: the
 * request is replaced by a {@link LocalAnswer} with the gate's status and {@code {"error":"…","reason":"…"}} (a
 * JSON-RPC error carrying the request's id for an inspected JSON-RPC request: {@link JsonRpcErrors}), which
 * the forwarder sends in order and then closes the HTTP/1.1 connection (the unread body makes it unusable) or resets
 * the HTTP/2 stream. A gate that fails is a denial (503): the sidecar fails closed. A request allowed under a task
 * credential is preceded by its {@link Admissions.Admission}, which the forwarder keeps open while the exchange runs
 * (so that a revocation can cut it).
 */
final class RequestGateHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(RequestGateHandler.class);

    private final RequestGate gate;
    private final Direction direction;
    private final Supplier<Optional<SpiffeId>> ownIdentity;
    private final Admissions admissions;
    private final ArrayDeque<Object> held = new ArrayDeque<>();
    private boolean deciding;
    private boolean readCompletePending;
    private boolean denied;

    RequestGateHandler(RequestGate gate, Direction direction, Supplier<Optional<SpiffeId>> ownIdentity) {
        this(gate, direction, ownIdentity, null);
    }

    /** @param admissions where requests allowed under a credential are registered; null: no credential enforcement */
    RequestGateHandler(RequestGate gate, Direction direction, Supplier<Optional<SpiffeId>> ownIdentity,
                       Admissions admissions) {
        this.gate = gate;
        this.direction = direction;
        this.ownIdentity = ownIdentity;
        this.admissions = admissions;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (denied) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (deciding) {
            held.add(msg);
            return;
        }
        if (!(msg instanceof HttpRequest request)) {
            ctx.fireChannelRead(msg);
            return;
        }
        deciding = true;
        held.add(msg);
        CompletionStage<GateDecision> stage;
        GateRequest r = new GateRequest(direction, request, Peers.of(ctx.channel()), ownIdentity.get());
        try {
            stage = gate.decide(r);
        } catch (RuntimeException e) {
            decided(ctx, null, e, r);
            return;
        }
        stage.whenComplete((d, err) -> {
            if (ctx.executor().inEventLoop()) {
                decided(ctx, d, err, r);
            } else {
                ctx.executor().execute(() -> decided(ctx, d, err, r));
            }
        });
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (denied) {
            return;
        }
        if (deciding) {
            readCompletePending = true;
            return;
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseHeld();
        ctx.fireChannelInactive();
    }

    private void decided(ChannelHandlerContext ctx, GateDecision d, Throwable err, GateRequest r) {
        if (!ctx.channel().isActive() && held.isEmpty()) {
            return;
        }
        deciding = false;
        GateDecision.Deny deny;
        RequestOutcome outcome = RequestOutcome.DENIED;
        if (err != null || d == null) {
            LOG.warn("request gate failed; denying", err);
            deny = new GateDecision.Deny(503, "gate_unavailable", "the request could not be checked");
            outcome = RequestOutcome.UNAVAILABLE;
        } else if (d instanceof GateDecision.Deny x) {
            deny = x;
            if (x.status() == 503) {
                outcome = RequestOutcome.UNAVAILABLE;
            }
        } else {
            deny = null;
        }
        if (deny == null) {
            // The allowed head goes on; what followed it is passed on, and a further request among it is gated again.
            VerifiedToken admittedBy = admissions == null ? null : r.context().token().orElse(null);
            if (admittedBy != null) {
                ctx.fireChannelRead(admissions.admitted(admittedBy, direction));
            }
            ctx.fireChannelRead(held.pollFirst());
            while (!held.isEmpty()) {
                Object m = held.pollFirst();
                channelRead(ctx, m);
                if (deciding) {
                    return;
                }
            }
            if (readCompletePending) {
                readCompletePending = false;
                ctx.fireChannelReadComplete();
            }
            return;
        }
        denied = true;
        HttpRequest head = held.peekFirst() instanceof HttpRequest h ? h : null;
        String body = head == null ? null : JsonRpcErrors.bodyFor(head, deny);
        releaseHeld();
        ctx.fireChannelRead(new LocalAnswer(deny.status(), deny.error(), deny.reason(), outcome, body));
        ctx.fireChannelReadComplete();
    }

    private void releaseHeld() {
        Object m;
        while ((m = held.pollFirst()) != null) {
            ReferenceCountUtil.release(m);
        }
    }
}
