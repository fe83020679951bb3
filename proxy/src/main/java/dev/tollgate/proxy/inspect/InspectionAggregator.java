package dev.tollgate.proxy.inspect;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.LocalAnswer;
import dev.tollgate.proxy.http.BodyBudget;
import dev.tollgate.proxy.listener.Peers;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.request.RequestContext;

/**
 * In front of the request gate: for a request to an inspected upstream, reads what the gates need before they run.
 * An MCP POST (and a REST request whose route takes arguments from the body) is aggregated, bounded by
 * {@code inspection.max-body} (413 as soon as the declared length or the bytes read pass it), refused with any
 * {@code Content-Encoding} (415) or a non-JSON content type (415), and parsed ({@link JsonRpcParser}). The body is
 * held under the sidecar's {@link BodyBudget} (its bytes reserved before they are allocated: 503 when the sidecar is
 * full, 429 past the identity's or the connection's share, with {@code Retry-After}) and must arrive within
 * {@code limits.buffered-bodies.read-timeout} and at {@code min-rate} (408). A body that is not what the mode expects
 * is refused here (400) — like request hardening, before any gate. The request's context goes on with the
 * {@link Inspected} result and a head whose content is exactly the bytes that were parsed. Other requests to an
 * inspected upstream (MCP GET streams, DELETE, REST routes reading no body) go on with their result and their bodies
 * stream unbuffered. The upstream is the context's route: inspection does not route. A refusal is a {@link LocalAnswer};
 * nothing of the request is forwarded and the rest of the connection (or stream) is dropped.
 */
public final class InspectionAggregator extends ChannelInboundHandlerAdapter {
    /** Seconds a client refused by the body budget is asked to wait ({@code Retry-After}). */
    static final int RETRY_AFTER_SECONDS = 1;
    private final ToolCallInspection inspection;
    private final Direction direction;

    private RequestContext context;
    private RestRoutes.Match route;
    private BudgetedBody body;
    private boolean refused;
    /** The body deadline ({@code read-timeout}) and the periodic {@code min-rate} check, while a body is read. */
    private ScheduledFuture<?> deadline;
    private ScheduledFuture<?> rateCheck;
    /** Bytes of the body read when the current rate window started. */
    private long windowStart;

    InspectionAggregator(ToolCallInspection inspection, Direction direction) {
        this.inspection = inspection;
        this.direction = direction;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (context != null) {
            if (!(msg instanceof HttpContent c)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            int max = inspection.limits().maxBody();
            if (body.readableBytes() + (long) c.content().readableBytes() > max) {
                c.release();
                refuse(ctx, InspectionReason.BODY_TOO_LARGE);
                return;
            }
            BodyBudget.Refusal full = body.append(c.content());
            if (full != null) {
                c.release();
                refuse(ctx, budgetReason(full));
                return;
            }
            HttpHeaders trailers = msg instanceof LastHttpContent last ? last.trailingHeaders() : null;
            HttpHeaders trailersCopy = trailers == null || trailers.isEmpty() ? null : new DefaultHttpHeaders().set(trailers);
            c.release();
            if (msg instanceof LastHttpContent) {
                complete(ctx, trailersCopy);
            }
            return;
        }
        if (!(msg instanceof RequestContext rc)) {
            ctx.fireChannelRead(msg);
            return;
        }
        Optional<SidecarConfig.Upstream> u = rc.route();
        if (u.isEmpty() || u.get().inspect().mode() == SidecarConfig.InspectionMode.NONE) {
            ctx.fireChannelRead(msg);
            return;
        }
        HttpRequest req = rc.head();
        SidecarConfig.Upstream up = u.get();
        SidecarConfig.Inspect how = up.inspect();
        boolean aggregate;
        RestRoutes.Match m = null;
        if (how.mode() == SidecarConfig.InspectionMode.MCP) {
            InspectionReason wrong = mcpMethodProblem(req);
            if (wrong != null) {
                context = rc;
                refuse(ctx, wrong);
                return;
            }
            // A GET or DELETE that may carry a body (chunked, as an HTTP/2 request also reads) is read to its end:
            // it goes on only when that body is empty.
            aggregate = req.method().equals(HttpMethod.POST) || mayHaveBody(req);
        } else {
            m = inspection.routes(how).match(req.method().name(), rc.path());
            aggregate = m != null && m.route().needsBody();
        }
        if (!aggregate) {
            passHead(ctx, rc, up, m);
            return;
        }
        InspectionReason problem = req.method().equals(HttpMethod.POST) || how.mode() != SidecarConfig.InspectionMode.MCP
                ? bodyProblem(req) : null;
        if (problem != null) {
            context = rc;
            refuse(ctx, problem);
            return;
        }
        route = m;
        context = rc;
        // The body's bytes are reserved before anything of it is allocated: the declared length at once (and
        // before a 100 Continue invites it), otherwise as the buffer grows.
        int maxBody = inspection.limits().maxBody();
        long declared = HttpUtil.getContentLength(req, -1L);
        int initial = req instanceof FullHttpRequest full ? full.content().readableBytes()
                : (int) Math.max(0, Math.min(declared, maxBody));
        BodyBudget.Lease lease = inspection.bodyBudget().lease(ctx.channel(), identityOf(ctx.channel()));
        BodyBudget.Refusal full = initial > maxBody ? null : lease.grow(initial);
        if (full != null) {
            refuse(ctx, budgetReason(full));
            return;
        }
        if (initial > maxBody) {
            refuse(ctx, InspectionReason.BODY_TOO_LARGE);
            return;
        }
        body = new BudgetedBody(ctx.alloc(), lease, initial, maxBody);
        if (req instanceof FullHttpRequest fullRequest) {
            body.writeBytes(fullRequest.content());
            HttpHeaders t = fullRequest.trailingHeaders().isEmpty() ? null
                    : new DefaultHttpHeaders().set(fullRequest.trailingHeaders());
            complete(ctx, t);
            return;
        }
        if (HttpUtil.is100ContinueExpected(req)) {
            req.headers().remove(HttpHeaderNames.EXPECT);
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                    Unpooled.EMPTY_BUFFER));
        }
        armDeadlines(ctx);
    }

    /** Who the body is held for: the peer's SPIFFE ID on ingress, the local agent on egress. */
    private Object identityOf(Channel ch) {
        if (direction == Direction.EGRESS) {
            return BodyBudget.LOCAL_AGENT;
        }
        return Peers.of(ch).<Object>map(id -> id).orElse(BodyBudget.LOCAL_AGENT);
    }

    private static InspectionReason budgetReason(BodyBudget.Refusal r) {
        return switch (r) {
            case TOTAL -> InspectionReason.BODY_BUDGET_EXHAUSTED;
            case IDENTITY -> InspectionReason.IDENTITY_BODY_BUDGET_EXHAUSTED;
            case CONNECTION -> InspectionReason.CONNECTION_BODY_BUDGET_EXHAUSTED;
        };
    }

    /** The body must be whole within {@code read-timeout} and arrive at {@code min-rate} over each rate window. */
    private void armDeadlines(ChannelHandlerContext ctx) {
        SidecarConfig.BufferedBodies b = inspection.bodies();
        deadline = ctx.executor().schedule(() -> expire(ctx, InspectionReason.BODY_READ_TIMEOUT),
                b.readTimeout().toNanos(), TimeUnit.NANOSECONDS);
        if (b.minRate() > 0) {
            long window = b.rateWindow().toNanos();
            long minBytes = (long) Math.ceil(b.minRate() * (window / 1e9));
            windowStart = 0;
            rateCheck = ctx.executor().scheduleAtFixedRate(() -> {
                long read = body == null ? 0 : body.writerIndex();
                if (read - windowStart < minBytes) {
                    expire(ctx, InspectionReason.BODY_TOO_SLOW);
                }
                windowStart = read;
            }, window, window, TimeUnit.NANOSECONDS);
        }
    }

    private void cancelDeadlines() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
        if (rateCheck != null) {
            rateCheck.cancel(false);
            rateCheck = null;
        }
    }

    private void expire(ChannelHandlerContext ctx, InspectionReason reason) {
        if (context == null || refused || !ctx.channel().isActive()) {
            cancelDeadlines();
            return;
        }
        refuse(ctx, reason);
    }

    /**
     * MCP (Streamable HTTP) uses POST for messages, GET for the server's stream and DELETE to end a session; only a
     * POST body is read, so any other method, or a GET or DELETE with a body, would pass uninspected. Null when fine.
     */
    static InspectionReason mcpMethodProblem(HttpRequest req) {
        HttpMethod m = req.method();
        if (m.equals(HttpMethod.POST)) {
            return null;
        }
        if (!m.equals(HttpMethod.GET) && !m.equals(HttpMethod.DELETE)) {
            return InspectionReason.METHOD_NOT_ALLOWED;
        }
        boolean body = HttpUtil.getContentLength(req, 0L) != 0
                || req instanceof FullHttpRequest full && full.content().isReadable();
        return body ? InspectionReason.BODY_NOT_ALLOWED : null;
    }

    private static boolean mayHaveBody(HttpRequest req) {
        return HttpUtil.isTransferEncodingChunked(req) || req instanceof FullHttpRequest;
    }

    /** Why the body of this request cannot be inspected, judged from its head; null when it can be read. */
    private InspectionReason bodyProblem(HttpRequest req) {
        HttpHeaders h = req.headers();
        if (h.contains(HttpHeaderNames.CONTENT_ENCODING)) {
            return InspectionReason.CONTENT_ENCODING_NOT_ALLOWED;
        }
        List<String> types = h.getAll(HttpHeaderNames.CONTENT_TYPE);
        // one Content-Type: with two, the upstream may read the body by the one not checked here
        String type = types.size() == 1 ? types.get(0) : null;
        CharSequence mime = type == null ? null : HttpUtil.getMimeType(type);
        if (mime == null || !HttpHeaderValues.APPLICATION_JSON.contentEqualsIgnoreCase(mime) || !utf8Charset(type)) {
            return InspectionReason.NOT_JSON;
        }
        if (HttpUtil.getContentLength(req, -1L) > inspection.limits().maxBody()) {
            return InspectionReason.BODY_TOO_LARGE;
        }
        return null;
    }

    /**
     * Whether the Content-Type's {@code charset}, if it names one, is UTF-8 (in any case, quoted or not), the only
     * encoding the body is read in here: an upstream decoding by another ({@code charset=utf-7}, which Express's JSON
     * parser honours) would read {@code "tools+AC8-call"}, plain ASCII here, as {@code tools/call}.
     */
    static boolean utf8Charset(String contentType) {
        int semicolon = contentType.indexOf(';');
        boolean seen = false;
        while (semicolon >= 0) {
            int next = contentType.indexOf(';', semicolon + 1);
            String param = (next < 0 ? contentType.substring(semicolon + 1) : contentType.substring(semicolon + 1, next))
                    .strip();
            int eq = param.indexOf('=');
            String name = (eq < 0 ? param : param.substring(0, eq)).strip();
            if (name.equalsIgnoreCase("charset")) {
                String value = eq < 0 ? "" : param.substring(eq + 1).strip();
                if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
                    value = value.substring(1, value.length() - 1);
                }
                if (seen || !value.equalsIgnoreCase("utf-8")) {
                    return false;
                }
                seen = true;
            }
            semicolon = next;
        }
        return true;
    }

    private void passHead(ChannelHandlerContext ctx, RequestContext rc, SidecarConfig.Upstream up,
                          RestRoutes.Match m) {
        List<Inspected.Call> calls = new ArrayList<>();
        if (m != null) {
            ObjectNode args = RestRoutes.arguments(m, rc.query(), null);
            if (args == null) {
                context = rc;
                refuse(ctx, InspectionReason.AMBIGUOUS_ARGUMENT);
                return;
            }
            calls.add(new Inspected.Call(m.route().tool(), args));
        }
        boolean noRoute = up.inspect().mode() == SidecarConfig.InspectionMode.REST && m == null;
        rc.inspected(Inspected.of(direction, up.name(), up.inspect().mode(), null, calls, noRoute), rc.head());
        ctx.fireChannelRead(rc);
    }

    private void complete(ChannelHandlerContext ctx, HttpHeaders trailers) {
        byte[] bytes = ByteBufUtil.getBytes(body);
        List<Inspected.Call> calls = new ArrayList<>();
        JsonRpcBody parsed = null;
        InspectionReason problem = null;
        SidecarConfig.Upstream upstream = context.route().orElseThrow();
        boolean mcp = upstream.inspect().mode() == SidecarConfig.InspectionMode.MCP;
        if (mcp && !context.method().equals(HttpMethod.POST)) {
            if (body.isReadable()) {
                problem = InspectionReason.BODY_NOT_ALLOWED;
            }
        } else if (mcp) {
            JsonRpcParser.Result r = inspection.parser().parse(bytes);
            if (r instanceof JsonRpcParser.Refused x) {
                problem = x.reason();
            } else {
                parsed = ((JsonRpcParser.Parsed) r).body();
                for (JsonRpcMessage msg : parsed.messages()) {
                    if (msg.isToolCall()) {
                        calls.add(new Inspected.Call(msg.toolName(), msg.arguments() != null ? msg.arguments()
                                : JsonNodeFactory.instance.objectNode()));
                    }
                }
            }
        } else {
            JsonNode tree = inspection.readJson(bytes);
            ObjectNode args = tree == null ? null : RestRoutes.arguments(route, context.query(), tree);
            if (tree == null) {
                problem = InspectionReason.MALFORMED_JSON;
            } else if (args == null) {
                problem = InspectionReason.AMBIGUOUS_ARGUMENT;
            } else {
                calls.add(new Inspected.Call(route.route().tool(), args));
            }
        }
        if (problem != null) {
            refuse(ctx, problem);
            return;
        }
        cancelDeadlines();
        Inspected in = Inspected.of(direction, upstream.name(), upstream.inspect().mode(), parsed, calls, false);
        RequestContext rc = context;
        HttpRequest h = rc.head();
        ByteBuf content = body;
        body = null;
        route = null;
        context = null;
        HttpRequest whole = new DefaultFullHttpRequest(h.protocolVersion(), h.method(), h.uri(), content, h.headers(),
                trailers == null ? EmptyHttpHeaders.INSTANCE : trailers);
        ReferenceCountUtil.release(h);
        rc.inspected(in, whole);
        ctx.fireChannelRead(rc);
    }

    /**
     * Answers now, whatever of the body is still on its way: the forwarder ends the connection after the answer
     * with a short, bounded linger (so a client still sending reads the answer instead of a reset), or resets the
     * HTTP/2 stream.
     */
    private void refuse(ChannelHandlerContext ctx, InspectionReason reason) {
        inspection.refusedBeforeGates(direction, reason, context,
                context == null ? null : context.route().map(SidecarConfig.Upstream::name).orElse(null));
        inspection.bodyLimitHit(reason);
        if (context != null) {
            context.release();
        }
        route = null;
        context = null;
        releaseBody();
        answer(ctx, reason);
    }

    private void answer(ChannelHandlerContext ctx, InspectionReason reason) {
        refused = true;
        int retryAfter = reason.status() == 503 || reason.status() == 429 ? RETRY_AFTER_SECONDS : 0;
        ctx.fireChannelRead(new LocalAnswer(reason.status(), reason.error(), reason.tag(), RequestOutcome.DENIED,
                null, retryAfter));
        ctx.fireChannelReadComplete();
    }

    private void releaseBody() {
        cancelDeadlines();
        if (body != null) {
            body.release();
            body = null;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseBody();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseBody();
    }
}
