package dev.tollgate.proxy.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

import dev.tollgate.api.SpiffeId;

/**
 * The {@code x-tollgate-peer-id} header, which carries the mTLS-verified SPIFFE ID of the peer to the upstream.
 * Only the sidecar may set it: every copy a client sent is removed first, whatever its case.
 */
public final class IdentityHeader {
    /** The header name. Netty header lookups ignore case, so removing it removes every spelling. */
    public static final AsciiString NAME = AsciiString.cached("x-tollgate-peer-id");

    private IdentityHeader() {
    }

    /** Removes every incoming copy; for requests forwarded without a verified peer. */
    public static void strip(HttpHeaders headers) {
        headers.remove(NAME);
    }

    /**
     * Replaces every incoming copy by exactly one header carrying {@code verifiedSpiffeId}, the SPIFFE ID from the
     * verified peer certificate.
     *
     * @throws dev.tollgate.api.InvalidSpiffeIdException if {@code verifiedSpiffeId} is not a valid SPIFFE ID (a
     *                                                   programming error: the value must come from a verified SVID)
     */
    public static void setVerified(HttpHeaders headers, String verifiedSpiffeId) {
        String canonical = SpiffeId.parse(verifiedSpiffeId).toString();
        headers.remove(NAME);
        headers.set(NAME, canonical);
    }
}
