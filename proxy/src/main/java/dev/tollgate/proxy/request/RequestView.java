package dev.tollgate.proxy.request;

import java.util.List;
import java.util.Optional;
import java.util.function.BiConsumer;

import io.netty.handler.codec.http.HttpMethod;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.inspect.Inspected;
import dev.tollgate.proxy.metrics.Direction;

/**
 * What a gate may read of one request: everything its {@link RequestContext} was filled with, and the request line
 * and header values, but nothing that changes the request. A gate answers with a decision and, when it allows, the
 * {@link HeaderEdit}s the forwarder applies when it writes the head upstream.
 */
public interface RequestView {

    Direction direction();

    /** The upstream chosen for this request, routed once when the context was made; empty: no upstream matches. */
    Optional<SidecarConfig.Upstream> route();

    HttpMethod method();

    /** The request target as hardening left it (origin form). */
    String uri();

    /**
     * The target's path: what precedes the first '?' of the origin-form target hardening left (it turned an
     * absolute-form target into origin form and refused a '#'); {@code *} for {@code OPTIONS *}. Never null.
     */
    String path();

    /**
     * Whether a path says what it is: absolute, no percent-escapes, no dot segments, no empty segments. Only such a
     * path may match a path prefix that loosens a check (a credential exemption, an exception's scope): hardening
     * normalises what it can, and anything left that a server could read otherwise matches no prefix.
     */
    static boolean isNormalPath(String path) {
        return path != null && path.startsWith("/") && !path.contains("%") && !path.contains("/./")
                && !path.contains("/../") && !path.endsWith("/..") && !path.endsWith("/.") && !path.contains("//");
    }

    /** The target's query (what follows the first '?'), or null when there is none. */
    String query();

    /** The peer's SPIFFE ID from its verified certificate; empty on egress (the local agent is the caller). */
    Optional<SpiffeId> peer();

    /** This sidecar's SPIFFE ID from its current certificate when the request arrived; empty while none is loaded. */
    Optional<SpiffeId> own();

    /** The credential the credential step verified and allowed (task token on egress, exchanged on ingress). */
    Optional<VerifiedToken> credential();

    /** What tool-call inspection read from the request before the gates; null when it is not inspected. */
    Inspected inspection();

    /** The first value of a header, or null. */
    String header(CharSequence name);

    /** Every value of a header, in order. */
    List<String> headerValues(CharSequence name);

    /** Each header field in order, as name and value; the values cannot be changed through it. */
    void forEachHeader(BiConsumer<CharSequence, CharSequence> field);
}
