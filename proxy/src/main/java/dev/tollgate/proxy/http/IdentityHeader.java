package dev.tollgate.proxy.http;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

import dev.tollgate.api.SpiffeId;

/**
 * The {@code x-tollgate-peer-id} header, which carries the mTLS-verified SPIFFE ID of the peer to the upstream.
 * Only the sidecar may set it: every copy a client sent is removed first, whatever its case, and so is every header
 * whose name reads the same with {@code _} (or {@code .}, any character not a letter or digit) for {@code -}
 * ({@code X_Tollgate_Peer_Id}): application servers that map header names to CGI-style variables
 * ({@code HTTP_X_TOLLGATE_PEER_ID}) give these spellings one key. The same holds
 * for {@code tollgate-token} on ingress ({@code alsoSpellingsOf}).
 */
public final class IdentityHeader {
    /** The header name. Netty header lookups ignore case, so removing it removes every spelling. */
    public static final AsciiString NAME = AsciiString.cached("x-tollgate-peer-id");

    private IdentityHeader() {
    }

    /**
     * Removes every incoming copy, in any spelling, and the underscore spellings of {@code alsoSpellingsOf} (their
     * exact names stay), in one pass over the headers; for requests forwarded without a verified peer.
     */
    public static void strip(HttpHeaders headers, AsciiString... alsoSpellingsOf) {
        List<CharSequence> remove = null;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> i = headers.iteratorCharSequence(); i.hasNext(); ) {
            CharSequence n = i.next().getKey();
            boolean copy = readsAs(n, NAME);
            for (int k = 0; !copy && k < alsoSpellingsOf.length; k++) {
                copy = readsAs(n, alsoSpellingsOf[k]) && !AsciiString.contentEqualsIgnoreCase(n, alsoSpellingsOf[k]);
            }
            if (copy) {
                if (remove == null) {
                    remove = new ArrayList<>(1);
                }
                remove.add(n);
            }
        }
        if (remove != null) {
            for (CharSequence n : remove) {
                headers.remove(n);
            }
        }
    }

    private static boolean isAsciiLetterOrDigit(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9';
    }

    /**
     * Whether {@code candidate} is {@code name} (lower case) ignoring case, with any {@code -} written as another
     * character that is not a letter or digit ({@code _}, {@code .}): CGI gateways map each of those to {@code _}.
     */
    static boolean readsAs(CharSequence candidate, AsciiString name) {
        if (candidate.length() != name.length()) {
            return false;
        }
        for (int i = 0; i < candidate.length(); i++) {
            char c = candidate.charAt(i);
            char n = name.charAt(i);
            if (c == n || (n == '-' && !isAsciiLetterOrDigit(c)) || (c >= 'A' && c <= 'Z' && c + ('a' - 'A') == n)) {
                continue;
            }
            return false;
        }
        return true;
    }

    /**
     * Replaces every incoming copy by exactly one header carrying {@code verifiedSpiffeId}, the SPIFFE ID from the
     * verified peer certificate.
     *
     * @throws dev.tollgate.api.InvalidSpiffeIdException if {@code verifiedSpiffeId} is not a valid SPIFFE ID (a
     *                                                   programming error: the value must come from a verified SVID)
     */
    public static void setVerified(HttpHeaders headers, String verifiedSpiffeId, AsciiString... alsoSpellingsOf) {
        String canonical = SpiffeId.parse(verifiedSpiffeId).toString();
        strip(headers, alsoSpellingsOf);
        headers.set(NAME, canonical);
    }
}
