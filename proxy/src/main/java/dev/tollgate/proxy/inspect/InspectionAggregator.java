package dev.tollgate.proxy.inspect;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
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

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.LocalAnswer;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.RequestOutcome;

/**
 * In front of the request gate: for a request to an inspected upstream, reads what the gates need before they run.
 * An MCP POST (and a REST request whose route takes arguments from the body) is aggregated, bounded by
 * {@code inspection.max-body} (413), refused with any {@code Content-Encoding} (415) or a non-JSON content type
 * (415), and parsed ({@link JsonRpcParser}); a body that is not what the mode expects is refused here (400) — like
 * request hardening, before any gate. The request goes on as an {@link InspectedRequest} whose content is exactly
 * the bytes that were parsed. Other requests to an inspected upstream (MCP GET streams, DELETE, REST routes reading
 * no body) go on as an {@link InspectedHead} and their bodies stream unbuffered. A refusal is a {@link LocalAnswer};
 * nothing of the request is forwarded and the rest of the connection (or stream) is dropped.
 */
public final class InspectionAggregator extends ChannelInboundHandlerAdapter {
    /** How much of a body over the limit is still read (and dropped) before the 413, in multiples of the limit. */
    static final int DRAIN_FACTOR = 4;
    private final ToolCallInspection inspection;
    private final Direction direction;
    private final Function<HttpRequest, Optional<SidecarConfig.Upstream>> target;

    private HttpRequest head;
    private SidecarConfig.Upstream upstream;
    private RestRoutes.Match route;
    private CompositeByteBuf body;
    private boolean refused;
    /** Over the body limit: the rest of the body is read and dropped (at most this much more) before the 413. */
    private long draining = -1;

    InspectionAggregator(ToolCallInspection inspection, Direction direction,
                         Function<HttpRequest, Optional<SidecarConfig.Upstream>> target) {
        this.inspection = inspection;
        this.direction = direction;
        this.target = target;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (draining >= 0) {
            boolean last = msg instanceof LastHttpContent;
            if (msg instanceof HttpContent c) {
                draining -= c.content().readableBytes();
            }
            ReferenceCountUtil.release(msg);
            if (last || draining < 0) {
                draining = -1;
                answer(ctx, InspectionReason.BODY_TOO_LARGE);
            }
            return;
        }
        if (head != null) {
            if (!(msg instanceof HttpContent c)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            int max = inspection.limits().maxBody();
            if (body.readableBytes() + (long) c.content().readableBytes() > max) {
                boolean last = msg instanceof LastHttpContent;
                c.release();
                if (last) {
                    refuse(ctx, InspectionReason.BODY_TOO_LARGE);
                } else {
                    drain(ctx, InspectionReason.BODY_TOO_LARGE);
                }
                return;
            }
            body.addComponent(true, c.content().retain());
            HttpHeaders trailers = msg instanceof LastHttpContent last ? last.trailingHeaders() : null;
            HttpHeaders trailersCopy = trailers == null || trailers.isEmpty() ? null : new DefaultHttpHeaders().set(trailers);
            c.release();
            if (msg instanceof LastHttpContent) {
                complete(ctx, trailersCopy);
            }
            return;
        }
        if (!(msg instanceof HttpRequest req)) {
            ctx.fireChannelRead(msg);
            return;
        }
        Optional<SidecarConfig.Upstream> u = target.apply(req);
        if (u.isEmpty() || u.get().inspect().mode() == SidecarConfig.InspectionMode.NONE) {
            ctx.fireChannelRead(msg);
            return;
        }
        SidecarConfig.Upstream up = u.get();
        SidecarConfig.Inspect how = up.inspect();
        boolean aggregate;
        RestRoutes.Match m = null;
        if (how.mode() == SidecarConfig.InspectionMode.MCP) {
            InspectionReason wrong = mcpMethodProblem(req);
            if (wrong != null) {
                head = req;
                upstream = up;
                ReferenceCountUtil.release(req);
                refuse(ctx, wrong);
                return;
            }
            // A GET or DELETE that may carry a body (chunked, as an HTTP/2 request also reads) is read to its end:
            // it goes on only when that body is empty.
            aggregate = req.method().equals(HttpMethod.POST) || mayHaveBody(req);
        } else {
            m = inspection.routes(how).match(req.method().name(), pathOf(req.uri()));
            aggregate = m != null && m.route().needsBody();
        }
        if (!aggregate) {
            passHead(ctx, req, up, m);
            return;
        }
        InspectionReason problem = req.method().equals(HttpMethod.POST) || how.mode() != SidecarConfig.InspectionMode.MCP
                ? bodyProblem(req) : null;
        if (problem != null) {
            head = req;
            upstream = up;
            boolean bodyFollows = !(req instanceof FullHttpRequest);
            ReferenceCountUtil.release(req);
            if (problem == InspectionReason.BODY_TOO_LARGE && bodyFollows) {
                drain(ctx, problem);
            } else {
                refuse(ctx, problem);
            }
            return;
        }
        head = req;
        upstream = up;
        route = m;
        if (HttpUtil.is100ContinueExpected(req)) {
            req.headers().remove(HttpHeaderNames.EXPECT);
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                    Unpooled.EMPTY_BUFFER));
        }
        body = ctx.alloc().compositeBuffer(1024);
        if (req instanceof FullHttpRequest full) {
            body.addComponent(true, full.content().retain());
            HttpHeaders t = full.trailingHeaders().isEmpty() ? null : new DefaultHttpHeaders().set(full.trailingHeaders());
            full.release();
            if (body.readableBytes() > inspection.limits().maxBody()) {
                refuse(ctx, InspectionReason.BODY_TOO_LARGE);
                return;
            }
            complete(ctx, t);
        }
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
        String type = h.get(HttpHeaderNames.CONTENT_TYPE);
        CharSequence mime = type == null ? null : HttpUtil.getMimeType(type);
        if (mime == null || !HttpHeaderValues.APPLICATION_JSON.contentEqualsIgnoreCase(mime)) {
            return InspectionReason.NOT_JSON;
        }
        if (HttpUtil.getContentLength(req, -1L) > inspection.limits().maxBody()) {
            return InspectionReason.BODY_TOO_LARGE;
        }
        return null;
    }

    private void passHead(ChannelHandlerContext ctx, HttpRequest req, SidecarConfig.Upstream up, RestRoutes.Match m) {
        List<Inspected.Call> calls = new ArrayList<>();
        if (m != null) {
            ObjectNode args = RestRoutes.arguments(m, queryOf(req.uri()), null);
            if (args == null) {
                head = req;
                upstream = up;
                ReferenceCountUtil.release(req);
                refuse(ctx, InspectionReason.AMBIGUOUS_ARGUMENT);
                return;
            }
            calls.add(new Inspected.Call(m.route().tool(), args));
        }
        boolean noRoute = up.inspect().mode() == SidecarConfig.InspectionMode.REST && m == null;
        Inspected in = Inspected.of(direction, up.name(), up.inspect().mode(), null, calls, noRoute);
        if (req instanceof FullHttpRequest full) {
            ctx.fireChannelRead(new InspectedRequest(full.protocolVersion(), full.method(), full.uri(), full.content(),
                    full.headers(), full.trailingHeaders(), in));
        } else {
            ctx.fireChannelRead(new InspectedHead(req.protocolVersion(), req.method(), req.uri(), req.headers(), in));
        }
    }

    private void complete(ChannelHandlerContext ctx, HttpHeaders trailers) {
        byte[] bytes = ByteBufUtil.getBytes(body);
        List<Inspected.Call> calls = new ArrayList<>();
        JsonRpcBody parsed = null;
        InspectionReason problem = null;
        boolean mcp = upstream.inspect().mode() == SidecarConfig.InspectionMode.MCP;
        if (mcp && !head.method().equals(HttpMethod.POST)) {
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
            ObjectNode args = tree == null ? null : RestRoutes.arguments(route, queryOf(head.uri()), tree);
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
        Inspected in = Inspected.of(direction, upstream.name(), upstream.inspect().mode(), parsed, calls, false);
        HttpRequest h = head;
        CompositeByteBuf content = body;
        head = null;
        body = null;
        route = null;
        upstream = null;
        ctx.fireChannelRead(new InspectedRequest(h.protocolVersion(), h.method(), h.uri(), content, h.headers(),
                trailers == null ? EmptyHttpHeaders.INSTANCE : trailers, in));
    }

    private void refuse(ChannelHandlerContext ctx, InspectionReason reason) {
        inspection.refusedBeforeGates(direction, reason, head, upstream == null ? null : upstream.name());
        head = null;
        upstream = null;
        route = null;
        releaseBody();
        answer(ctx, reason);
    }

    /**
     * Refuses a body over the limit once the client has sent it (up to {@link #DRAIN_FACTOR} times the limit more,
     * dropped as it arrives): a client still sending when the connection closes would be reset before it reads
     * the 413.
     */
    private void drain(ChannelHandlerContext ctx, InspectionReason reason) {
        inspection.refusedBeforeGates(direction, reason, head, upstream == null ? null : upstream.name());
        head = null;
        upstream = null;
        route = null;
        releaseBody();
        draining = (long) DRAIN_FACTOR * inspection.limits().maxBody();
    }

    private void answer(ChannelHandlerContext ctx, InspectionReason reason) {
        refused = true;
        ctx.fireChannelRead(new LocalAnswer(reason.status(), reason.error(), reason.tag(), RequestOutcome.DENIED));
        ctx.fireChannelReadComplete();
    }

    private void releaseBody() {
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

    static String pathOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    static String queryOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? null : uri.substring(q + 1);
    }
}
