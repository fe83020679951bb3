package dev.tollgate.proxy.listener;

import java.util.ArrayDeque;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.credential.Admissions;
import dev.tollgate.proxy.forward.LocalAnswer;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.inspect.JsonRpcErrors;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.request.LogLines;
import dev.tollgate.proxy.request.EnforcementWalk;
import dev.tollgate.proxy.request.RequestContext;

/**
 * Walks each request's {@link RequestContext} through the {@link EnforcementWalk} before anything of the request
 * reaches the forwarder: each step's gate decides over the context; an allowing step's credential, header edits and
 * response filter are recorded in the context, for the later steps and the forwarder. A gate that answers at once
 * costs no future; while a gate waits ({@link GateDecision.Pending}), what follows the request is held and no further
 * read is requested. A denial forwards nothing: the request is replaced by a {@link LocalAnswer} with the gate's
 * status and {@code {"error":"…","reason":"…"}} (a JSON-RPC error carrying the request's id for an inspected JSON-RPC
 * request: {@link JsonRpcErrors}), which the forwarder sends in order and then closes the HTTP/1.1 connection (the
 * unread body makes it unusable) or resets the HTTP/2 stream. A gate that throws or fails is a denial (503
 * {@code gate_unavailable}): the sidecar fails closed. A request allowed under a task credential gets its
 * {@link Admissions.Admission} in its context, which the forwarder keeps open while the exchange runs (so that a
 * revocation can cut it).
 */
final class RequestGateHandler extends ChannelInboundHandlerAdapter {
    static final GateDecision.Deny GATE_UNAVAILABLE =
            new GateDecision.Deny(503, "gate_unavailable", "the request could not be checked");

    private final EnforcementWalk walk;
    private final Direction direction;
    private final Admissions admissions;
    private final ProxyMetrics metrics;
    private final LogLines failures;
    private final ArrayDeque<Object> held = new ArrayDeque<>();
    private long decideStart;
    private boolean deciding;
    private boolean readCompletePending;
    private boolean denied;

    RequestGateHandler(EnforcementWalk walk, Direction direction) {
        this(walk, direction, null, null, LogLines.shared());
    }

    /**
     * @param admissions where requests allowed under a credential are registered; null: no credential enforcement
     * @param metrics    where the walk's decision time is recorded; null: not recorded
     * @param failures   where a failing gate is reported (off the event loop, rate-limited)
     */
    RequestGateHandler(EnforcementWalk walk, Direction direction, Admissions admissions, ProxyMetrics metrics,
                       LogLines failures) {
        this.walk = walk;
        this.direction = direction;
        this.admissions = admissions;
        this.metrics = metrics;
        this.failures = failures;
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
        if (!(msg instanceof RequestContext rc)) {
            ctx.fireChannelRead(msg);
            return;
        }
        deciding = true;
        decideStart = System.nanoTime();
        held.add(rc);
        walk(ctx, rc, -1, GateDecision.allow(), null);
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

    /**
     * Goes on from step {@code at}, whose gate answered {@code d} (or failed with {@code err}): records an allow and
     * asks the next step, until a step waits (the walk resumes here when it answers), denies, or the walk ends.
     */
    private void walk(ChannelHandlerContext ctx, RequestContext rc, int at, GateDecision d, Throwable err) {
        int i = at;
        while (true) {
            if (err == null && d instanceof GateDecision.Pending p) {
                int waiting = i;
                p.stage().whenComplete((x, e) -> {
                    if (ctx.executor().inEventLoop()) {
                        resumed(ctx, rc, waiting, x, e);
                    } else {
                        ctx.executor().execute(() -> resumed(ctx, rc, waiting, x, e));
                    }
                });
                return;
            }
            if (err != null || d == null) {
                failures.gateFailed(direction, i < 0 ? null : walk.step(i), err);
                decided(ctx, rc, GATE_UNAVAILABLE, RequestOutcome.UNAVAILABLE);
                return;
            }
            if (d instanceof GateDecision.Deny deny) {
                decided(ctx, rc, deny, deny.status() == 503 ? RequestOutcome.UNAVAILABLE : RequestOutcome.DENIED);
                return;
            }
            rc.allowedBy((GateDecision.Allow) d);
            if (++i == walk.size()) {
                decided(ctx, rc, null, null);
                return;
            }
            try {
                d = walk.gate(i).decide(rc);
            } catch (RuntimeException e) {
                d = null;
                err = e;
            }
        }
    }

    private void resumed(ChannelHandlerContext ctx, RequestContext rc, int at, GateDecision d, Throwable err) {
        if (!ctx.channel().isActive() && held.isEmpty()) {
            return;
        }
        walk(ctx, rc, at, d, err);
    }

    /** The walk ended: allowed when {@code deny} is null. */
    private void decided(ChannelHandlerContext ctx, RequestContext rc, GateDecision.Deny deny,
                         RequestOutcome outcome) {
        deciding = false;
        if (metrics != null) {
            metrics.gateDuration(direction, System.nanoTime() - decideStart);
        }
        if (deny == null) {
            // The allowed request goes on; what followed it is passed on, and a further request among it is walked.
            VerifiedToken admittedBy = admissions == null ? null : rc.credential().orElse(null);
            if (admittedBy != null) {
                rc.admission(admissions.admitted(admittedBy, direction));
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
        if (rc.responseFilter() != null) {
            rc.responseFilter().release();
        }
        String body = JsonRpcErrors.bodyFor(rc.inspection(), deny);
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
