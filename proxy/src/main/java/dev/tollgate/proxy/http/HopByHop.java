package dev.tollgate.proxy.http;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

/**
 * Removes hop-by-hop header fields (RFC 9110 §7.6.1) from a message before it is forwarded.
 *
 * <p>Removed from requests and responses: Connection and every field it names, Keep-Alive, Proxy-Connection,
 * Upgrade. TE: on requests kept as {@code TE: trailers} if {@code trailers} was among its codings (RFC 9110 §10.1.4
 * allows a proxy to forward that), otherwise removed; always removed from responses, where it has no meaning.
 * Proxy-Authorization (request) and Proxy-Authenticate (response) are removed too: they are addressed to the
 * proxy, the sidecar does no proxy authentication, and forwarding them would hand a credential meant for one hop
 * to the next.
 *
 * <p>Kept even when Connection names them: Transfer-Encoding and Content-Length, because the HTTP codec owns
 * message framing and re-frames the body when it encodes; Host; and {@link IdentityHeader#NAME}, which on ingress
 * the sidecar sets to the peer's verified identity (a peer naming it in Connection would have the application see
 * an authenticated request without it). A client that lists one of them in Connection changes nothing. The fields
 * a request's Connection names go as it comes in, before any gate ({@link #removeNamedFields}: what the gates check
 * is what goes upstream); the rest goes when it is forwarded, before the gates' header edits are applied, so nothing
 * a gate set can be named away either.
 */
public final class HopByHop {
    private static final List<AsciiString> ALWAYS = List.of(HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE,
            HttpHeaderNames.PROXY_CONNECTION, HttpHeaderNames.UPGRADE);

    private HopByHop() {
    }

    /** Removes the hop-by-hop fields of a request. */
    public static void removeFromRequest(HttpHeaders headers) {
        boolean trailers = acceptsTrailers(headers);
        removeCommon(headers);
        headers.remove(HttpHeaderNames.PROXY_AUTHORIZATION);
        headers.remove(HttpHeaderNames.TE);
        if (trailers) {
            headers.set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
        }
    }

    /** Removes the hop-by-hop fields of a response. */
    public static void removeFromResponse(HttpHeaders headers) {
        removeCommon(headers);
        headers.remove(HttpHeaderNames.PROXY_AUTHENTICATE);
        headers.remove(HttpHeaderNames.TE);
    }

    /**
     * Removes the fields a request's Connection names (not Connection itself, which still says whether the client
     * keeps the connection open, nor the fields kept), as the request comes in: the gates then judge the head the
     * upstream will get, and a client cannot have a field inspection checked (Content-Type, Mcp-Session-Id) vanish
     * on the way. The rest goes when the request is forwarded ({@link #removeFromRequest}).
     */
    public static void removeNamedFields(HttpHeaders headers) {
        if (headers.contains(HttpHeaderNames.CONNECTION)) {
            // TE stays for now: a client sending TE names it in Connection (RFC 9110 §10.1.4), and TE: trailers
            // is forwarded ({@link #removeFromRequest})
            removeNamed(headers, true);
        }
    }

    private static void removeCommon(HttpHeaders headers) {
        removeNamed(headers, false);
        for (AsciiString name : ALWAYS) {
            headers.remove(name);
        }
    }

    private static void removeNamed(HttpHeaders headers, boolean keepTe) {
        List<String> named = new ArrayList<>();
        for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : value.split(",")) {
                String name = token.trim().toLowerCase(Locale.ROOT);
                if (!name.isEmpty() && !isKept(name) && !(keepTe && HttpHeaderNames.TE.contentEquals(name))) {
                    named.add(name);
                }
            }
        }
        for (String name : named) {
            headers.remove(name);
        }
    }

    private static boolean isKept(String lowerName) {
        return HttpHeaderNames.TRANSFER_ENCODING.contentEquals(lowerName)
                || HttpHeaderNames.CONTENT_LENGTH.contentEquals(lowerName)
                || HttpHeaderNames.HOST.contentEquals(lowerName)
                || IdentityHeader.NAME.contentEquals(lowerName);
    }

    private static boolean acceptsTrailers(HttpHeaders headers) {
        for (String value : headers.getAll(HttpHeaderNames.TE)) {
            for (String coding : value.split(",")) {
                int semicolon = coding.indexOf(';');
                String name = (semicolon < 0 ? coding : coding.substring(0, semicolon)).trim();
                if (name.equalsIgnoreCase("trailers")) {
                    return true;
                }
            }
        }
        return false;
    }
}
