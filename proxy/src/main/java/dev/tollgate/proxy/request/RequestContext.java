package dev.tollgate.proxy.request;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiConsumer;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.credential.Admissions;
import dev.tollgate.proxy.forward.ResponseInterceptor;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.inspect.Inspected;
import dev.tollgate.proxy.metrics.Direction;

/**
 * One request's context, made once right after hardening and passed down the pipeline in place of the request head
 * (the head's body, if any, follows it as {@code HttpContent}): direction, the route (the upstream, chosen once), the
 * path and query (parsed once), the peer's and this sidecar's identities, and what the steps of the
 * {@link EnforcementWalk} found: the verified credential, the inspection result, the header edits and the response
 * filter of the allowing gates, and the credential's admission. The forwarder takes the route, applies the edits to
 * the head when it writes it upstream, opens the admission and installs the response filter.
 *
 * <p>Used on the request's event loop only. Its reference count is the head's: releasing the context releases the
 * head (and an aggregated body with it).
 */
public final class RequestContext implements RequestView, ReferenceCounted {
    private final Direction direction;
    private Optional<SidecarConfig.Upstream> route;
    private final String path;
    private final String query;
    private final Optional<SpiffeId> peer;
    private final Optional<SpiffeId> own;
    private HttpRequest head;
    private Inspected inspection;
    private VerifiedToken credential;
    private List<HeaderEdit> edits = List.of();
    private ResponseInterceptor responseFilter;
    private Admissions.Admission admission;

    /** Chooses a request's upstream from its Host header (null when absent) and its path. */
    @FunctionalInterface
    public interface Router {
        Optional<SidecarConfig.Upstream> select(String host, String path);
    }

    /**
     * The context of a request head as hardening left it (origin form, or {@code *}), routed with the path it parsed.
     */
    public static RequestContext routed(Direction direction, HttpRequest head, Router router, Optional<SpiffeId> peer,
                                        Optional<SpiffeId> own) {
        RequestContext c = new RequestContext(direction, head, Optional.empty(), peer, own);
        c.route = Objects.requireNonNull(router.select(head.headers().get(HttpHeaderNames.HOST), c.path), "route");
        return c;
    }

    /**
     * The context of a request head as hardening left it, routed already. Hardening has turned an absolute-form
     * target into origin form and refused any '#' ({@code PathNormalizer}), so the path is what precedes the first
     * '?' and the query what follows it.
     */
    public RequestContext(Direction direction, HttpRequest head, Optional<SidecarConfig.Upstream> route,
                          Optional<SpiffeId> peer, Optional<SpiffeId> own) {
        this.direction = Objects.requireNonNull(direction, "direction");
        this.head = Objects.requireNonNull(head, "head");
        this.route = Objects.requireNonNull(route, "route");
        this.peer = Objects.requireNonNull(peer, "peer");
        this.own = Objects.requireNonNull(own, "own");
        String uri = head.uri();
        int q = uri.indexOf('?');
        this.path = q < 0 ? uri : uri.substring(0, q);
        this.query = q < 0 ? null : uri.substring(q + 1);
    }

    // ---- what gates read ---------------------------------------------------------------------------------------

    @Override
    public Direction direction() {
        return direction;
    }

    @Override
    public Optional<SidecarConfig.Upstream> route() {
        return route;
    }

    @Override
    public HttpMethod method() {
        return head.method();
    }

    @Override
    public String uri() {
        return head.uri();
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public String query() {
        return query;
    }

    @Override
    public Optional<SpiffeId> peer() {
        return peer;
    }

    @Override
    public Optional<SpiffeId> own() {
        return own;
    }

    @Override
    public Optional<VerifiedToken> credential() {
        return Optional.ofNullable(credential);
    }

    @Override
    public Inspected inspection() {
        return inspection;
    }

    @Override
    public String header(CharSequence name) {
        return head.headers().get(name);
    }

    @Override
    public List<String> headerValues(CharSequence name) {
        return head.headers().getAll(name);
    }

    @Override
    public void forEachHeader(BiConsumer<CharSequence, CharSequence> field) {
        for (Iterator<Map.Entry<CharSequence, CharSequence>> i = head.headers().iteratorCharSequence();
             i.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = i.next();
            field.accept(e.getKey(), e.getValue());
        }
    }

    // ---- what the pipeline's handlers fill in and take -----------------------------------------------------------

    /** The request head (for the handlers that pass it on: inspection's reader, the gate handler, the forwarder). */
    public HttpRequest head() {
        return head;
    }

    /** Inspection read the request: its result, and the head carrying the aggregated body when it read one. */
    public void inspected(Inspected result, HttpRequest headWithBody) {
        this.inspection = Objects.requireNonNull(result, "result");
        this.head = Objects.requireNonNull(headWithBody, "headWithBody");
    }

    /** Records what an allowing step of the walk decided: the credential it verified, its edits, its filter. */
    public void allowedBy(GateDecision.Allow a) {
        if (a.credential() != null) {
            credential = a.credential();
        }
        if (!a.edits().isEmpty()) {
            if (edits.isEmpty()) {
                edits = a.edits();
            } else {
                List<HeaderEdit> all = new ArrayList<>(edits.size() + a.edits().size());
                all.addAll(edits);
                all.addAll(a.edits());
                edits = List.copyOf(all);
            }
        }
        if (a.responseFilter() != null) {
            responseFilter = a.responseFilter();
        }
    }

    /** The header edits of every allowing step, in the order of the walk. */
    public List<HeaderEdit> edits() {
        return edits;
    }

    /** What the forwarder runs the response through (MCP {@code tools/list} filtering); null for most requests. */
    public ResponseInterceptor responseFilter() {
        return responseFilter;
    }

    /** The credential's admission, registered when the walk allowed a request under a verified credential. */
    public Admissions.Admission admission() {
        return admission;
    }

    public void admission(Admissions.Admission a) {
        this.admission = a;
    }

    // ---- the head's reference count ----------------------------------------------------------------------------

    @Override
    public int refCnt() {
        return head instanceof ReferenceCounted r ? r.refCnt() : 1;
    }

    @Override
    public RequestContext retain() {
        ReferenceCountUtil.retain(head);
        return this;
    }

    @Override
    public RequestContext retain(int increment) {
        ReferenceCountUtil.retain(head, increment);
        return this;
    }

    @Override
    public RequestContext touch() {
        ReferenceCountUtil.touch(head);
        return this;
    }

    @Override
    public RequestContext touch(Object hint) {
        ReferenceCountUtil.touch(head, hint);
        return this;
    }

    @Override
    public boolean release() {
        return ReferenceCountUtil.release(head);
    }

    @Override
    public boolean release(int decrement) {
        return ReferenceCountUtil.release(head, decrement);
    }

    @Override
    public String toString() {
        return "RequestContext(" + direction.tag() + " " + head.method() + " " + path
                + route.map(u -> " -> " + u.name()).orElse("") + ")";
    }
}
