package dev.tollgate.controlplane.api;

import java.net.InetSocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

import javax.net.ssl.SSLPeerUnverifiedException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslHandler;

import dev.tollgate.api.wire.Problem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.token.AgentRateLimit;
import dev.tollgate.controlplane.audit.RefusalAudit;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RefusalReason;

/**
 * Routes aggregated requests. Authentication reads the TLS session on the event loop; everything else (database,
 * signing) runs on the blocking executor and the response is written back to the channel.
 */
@ChannelHandler.Sharable
final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger LOG = LoggerFactory.getLogger(ApiHandler.class);

    private final List<Route> routes;
    private final Authenticator authenticator;
    private final Executor executor;
    private final ControlPlaneMetrics metrics;
    private final Auditor auditor;

    ApiHandler(List<Route> routes, Authenticator authenticator, Executor executor, ControlPlaneMetrics metrics,
               Auditor auditor) {
        this.auditor = auditor;
        this.routes = routes;
        this.authenticator = authenticator;
        this.executor = executor;
        this.metrics = metrics;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        long start = System.nanoTime();
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        String method = req.method().name();
        if (!req.decoderResult().isSuccess()) {
            write(ctx, ApiResponse.problem(Problem.of(400, "malformed_request", "Bad request",
                    "the request could not be parsed")), false, method, "unmatched", start);
            refusedBeforeAuth(ctx, RefusalReason.MALFORMED_REQUEST, "malformed_request", "");
            return;
        }
        QueryStringDecoder qs = QueryStringDecoder.builder().maxParams(32).build(req.uri());
        String path = qs.rawPath();
        Route route = null;
        Map<String, String> params = null;
        boolean pathKnown = false;
        for (Route r : routes) {
            Map<String, String> m = r.match(path);
            if (m != null) {
                pathKnown = true;
                if (r.method().equals(method)) {
                    route = r;
                    params = m;
                    break;
                }
            }
        }
        if (route == null) {
            ApiResponse resp = pathKnown
                    ? ApiResponse.problem(Problem.of(405, "method_not_allowed", "Method not allowed", method + " " + path))
                    : ApiResponse.problem(Problem.of(404, "no_such_route", "Not found", "no route " + path));
            write(ctx, resp, keepAlive, method, "unmatched", start);
            refusedBeforeAuth(ctx, RefusalReason.UNKNOWN_ROUTE, resp.status() == 405 ? "method_not_allowed"
                    : "no_such_route", method + " " + path);
            return;
        }
        String remote = remote(ctx);
        // The chain is read from the TLS session here; verifying it (signatures) runs off the event loop below.
        X509Certificate[] chain = peerChain(ctx);
        byte[] body = ByteBufUtil.getBytes(req.content());
        String contentType = req.headers().get(HttpHeaderNames.CONTENT_TYPE);
        var query = qs.parameters();
        Map<String, String> pathParams = params;
        Route chosen = route;
        try {
            executor.execute(() -> {
                Principal principal = authenticator.authenticate(chain, remote);
                ApiRequest request = new ApiRequest(method, path, query, pathParams, contentType, body, principal,
                        remote);
                RouteResult resp;
                boolean authorized = false;
                try {
                    authenticator.authorizeCurrent(principal, chosen.access());
                    authorized = true;
                    resp = chosen.handler().handle(request);
                } catch (ApiProblem p) {
                    resp = p.toResponse();
                    if (!authorized && unauthenticated(principal)) {
                        // Sampled: a peer without a valid certificate must not add one durable row per request.
                        auditor.refusals().refused(principal instanceof Principal.Rejected
                                        ? RefusalReason.UNTRUSTED_CLIENT_CERTIFICATE : RefusalReason.NO_CLIENT_CERTIFICATE,
                                remote, RefusalAudit.API_REFUSED, method + " " + chosen.template(), cut(path),
                                p.reason(), Map.of("status", p.status()));
                    } else if (!"GET".equals(method) && !AgentRateLimit.RATE_LIMITED.equals(p.reason())
                            && (chosen.access().role() != null || "identity_revoked".equals(p.reason()))) {
                        // (a rate-limited request leaves no row: the limit bounds what an agent writes)
                        auditor.recordQuietly(Auditor.OPERATOR_ACTION, principal.auditName(),
                                method + " " + chosen.template(), path, p.reason(), Map.of("status", p.status()));
                    }
                } catch (RuntimeException e) {
                    LOG.error("{} {} failed", method, chosen.template(), e);
                    resp = ApiResponse.problem(Problem.of(500, "internal_error", "Internal error",
                            "the control plane failed to handle the request; see its log"));
                }
                if (resp instanceof StreamingResponse stream) {
                    ctx.executor().execute(() -> startStream(ctx, stream, method, chosen.template(), start));
                } else {
                    write(ctx, (ApiResponse) resp, keepAlive, method, chosen.template(), start);
                }
            });
        } catch (RejectedExecutionException e) {
            write(ctx, ApiResponse.problem(Problem.of(503, "overloaded", "Service unavailable",
                    "too many requests in progress; retry later")).withRetryAfter(1), false, method,
                    chosen.template(), start);
        }
    }

    private static boolean unauthenticated(Principal p) {
        return p instanceof Principal.Anonymous || p instanceof Principal.Rejected;
    }

    /** On the event loop: a refusal before authentication, counted and sampled into the audit trail off the loop. */
    private void refusedBeforeAuth(ChannelHandlerContext ctx, RefusalReason reason, String result, String subject) {
        String remote = remote(ctx);
        try {
            executor.execute(() -> auditor.refusals().refused(reason, remote, RefusalAudit.API_REFUSED, "request",
                    cut(subject), result, Map.of()));
        } catch (RejectedExecutionException e) {
            metrics.unauthenticatedRefusal(reason); // overloaded: counted, not audited
        }
    }

    /** Paths and other text from outside, cut to a length fit for an audit row. */
    static String cut(String s) {
        return s.length() > 256 ? s.substring(0, 256) + "…" : s;
    }

    private void write(ChannelHandlerContext ctx, ApiResponse r, boolean keepAlive, String method, String route,
                       long start) {
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(r.status()), Unpooled.wrappedBuffer(r.body()));
        if (r.contentType() != null) {
            resp.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
        }
        resp.headers().set(HttpHeaderNames.CONTENT_LENGTH, r.body().length);
        resp.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        resp.headers().set("x-content-type-options", "nosniff");
        if (r.retryAfterSeconds() > 0) {
            resp.headers().set(HttpHeaderNames.RETRY_AFTER, r.retryAfterSeconds());
        }
        if (!keepAlive) {
            resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        metrics.apiRequest(method, route, r.status(), System.nanoTime() - start);
        var f = ctx.writeAndFlush(resp);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** On the event loop: writes the response head and hands the connection to the stream. */
    private void startStream(ChannelHandlerContext ctx, StreamingResponse stream, String method, String route,
                             long start) {
        if (!ctx.channel().isActive()) {
            stream.abandon();
            return;
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, stream.contentType());
        head.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        head.headers().set("x-content-type-options", "nosniff");
        HttpUtil.setTransferEncodingChunked(head, true);
        metrics.apiRequest(method, route, 200, System.nanoTime() - start);
        if (ctx.pipeline().get(ApiServer.HANDLER_IDLE) != null) {
            ctx.pipeline().remove(ApiServer.HANDLER_IDLE);
        }
        ctx.writeAndFlush(head);
        stream.start(ctx.channel());
    }

    private static X509Certificate[] peerChain(ChannelHandlerContext ctx) {
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return null;
        }
        try {
            Certificate[] certs = ssl.engine().getSession().getPeerCertificates();
            X509Certificate[] out = new X509Certificate[certs.length];
            for (int i = 0; i < certs.length; i++) {
                out[i] = (X509Certificate) certs[i];
            }
            return out;
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
    }

    private static String remote(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a
                ? a.getAddress().getHostAddress() + ":" + a.getPort() : "unknown";
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("API connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
