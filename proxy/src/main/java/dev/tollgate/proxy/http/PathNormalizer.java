package dev.tollgate.proxy.http;

import java.util.Objects;

import io.netty.handler.codec.http.HttpMethod;

/**
 * Normalises a request target once, so that policy matches exactly what is forwarded. The rules:
 * <ul>
 *   <li>Origin-form only ({@code /path?query}). Absolute-form is refused: the sidecar is not a forward proxy, and
 *       accepting it would create a second authority next to Host. {@code *} is accepted for OPTIONS only.
 *       CONNECT and authority-form are refused.</li>
 *   <li>Path characters must be RFC 3986 pchars or {@code /}; anything else (space, control bytes, non-ASCII,
 *       {@code # " < > [ ] ^ ` { | }}) is refused, a raw backslash with its own reason.</li>
 *   <li>Percent-escapes must be {@code %} and two hex digits. Escaped unreserved characters
 *       ({@code A-Z a-z 0-9 - . _ ~}) are decoded; every other escape is kept, with upper-case hex. Refused:
 *       {@code %2F}, {@code %5C} and escaped control bytes ({@code %00}-{@code %1F}, {@code %7F}).</li>
 *   <li>{@code .} and {@code ..} segments are refused, raw or decoded ({@code %2E%2E}), also with a path parameter
 *       ({@code ..;x}, which Tomcat-style servers read as {@code ..}). Empty segments ({@code //}) are refused, not
 *       collapsed: collapsing would change what the upstream receives compared with what the agent sent, and no
 *       agent route needs them. A trailing {@code /} is kept.</li>
 *   <li>The query is kept as received, after checking its characters and escapes; {@code %00} is refused there
 *       too.</li>
 * </ul>
 * The result is idempotent: normalising a normalised target returns it unchanged. Never throws on any input.
 */
public final class PathNormalizer {
    private static final boolean[] PCHAR = new boolean[128];
    private static final boolean[] UNRESERVED = new boolean[128];
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    static {
        for (char c = '0'; c <= '9'; c++) {
            UNRESERVED[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            UNRESERVED[c] = true;
            UNRESERVED[c - 32] = true;
        }
        for (char c : "-._~".toCharArray()) {
            UNRESERVED[c] = true;
        }
        System.arraycopy(UNRESERVED, 0, PCHAR, 0, 128);
        for (char c : "!$&'()*+,;=:@".toCharArray()) {
            PCHAR[c] = true;
        }
    }

    /** Either a {@link NormalizedTarget} or a {@link Rejected}. */
    public sealed interface Result permits NormalizedTarget, Rejected {
    }

    /** The target was refused for {@code reason}. */
    public record Rejected(RejectReason reason) implements Result {
        public Rejected {
            Objects.requireNonNull(reason, "reason");
        }
    }

    private PathNormalizer() {
    }

    /** Normalises {@code target}, the request target of a {@code method} request as received. */
    public static Result normalize(HttpMethod method, String target) {
        if (target == null || target.isEmpty()) {
            return new Rejected(RejectReason.INVALID_TARGET);
        }
        if (HttpMethod.CONNECT.equals(method)) {
            return new Rejected(RejectReason.AUTHORITY_FORM_NOT_ALLOWED);
        }
        if (target.equals("*")) {
            return HttpMethod.OPTIONS.equals(method)
                    ? new NormalizedTarget("*", null) : new Rejected(RejectReason.ASTERISK_FORM_NOT_ALLOWED);
        }
        if (target.charAt(0) != '/') {
            if (target.contains("://")) {
                return new Rejected(RejectReason.ABSOLUTE_FORM_NOT_ALLOWED);
            }
            return new Rejected(target.indexOf('/') < 0 && target.indexOf(':') > 0
                    ? RejectReason.AUTHORITY_FORM_NOT_ALLOWED : RejectReason.INVALID_TARGET);
        }
        int q = target.indexOf('?');
        int pathEnd = q < 0 ? target.length() : q;
        StringBuilder path = new StringBuilder(pathEnd);
        String pathPart = q < 0 ? target : target.substring(0, pathEnd);
        RejectReason reason = path(target, pathEnd, path);
        if (reason == null) {
            reason = segments(path);
        }
        String rawQuery = null;
        if (reason == null && q >= 0) {
            rawQuery = target.substring(q + 1);
            reason = query(rawQuery);
        }
        if (reason != null) {
            return new Rejected(reason);
        }
        String normalized = pathPart.contentEquals(path) ? pathPart : path.toString();
        return new NormalizedTarget(normalized, rawQuery);
    }

    private static RejectReason path(String target, int end, StringBuilder out) {
        for (int i = 0; i < end; i++) {
            char c = target.charAt(i);
            if (c == '%') {
                if (i + 2 >= end) {
                    return RejectReason.INVALID_PERCENT_ENCODING;
                }
                int hi = hex(target.charAt(i + 1));
                int lo = hex(target.charAt(i + 2));
                if (hi < 0 || lo < 0) {
                    return RejectReason.INVALID_PERCENT_ENCODING;
                }
                int v = hi << 4 | lo;
                if (v == '/') {
                    return RejectReason.ENCODED_SLASH;
                }
                if (v == '\\') {
                    return RejectReason.ENCODED_BACKSLASH;
                }
                if (v < 0x20 || v == 0x7F) {
                    return RejectReason.ENCODED_CONTROL;
                }
                if (v < 0x80 && UNRESERVED[v]) {
                    out.append((char) v);
                } else {
                    out.append('%').append(HEX[hi]).append(HEX[lo]);
                }
                i += 2;
            } else if (c == '\\') {
                return RejectReason.BACKSLASH;
            } else if (c == '/' || (c < 0x80 && PCHAR[c])) {
                out.append(c);
            } else {
                return RejectReason.INVALID_TARGET_CHARACTER;
            }
        }
        return null;
    }

    /** Refuses empty, {@code .} and {@code ..} segments (a segment's path parameter after {@code ;} ignored). */
    private static RejectReason segments(CharSequence path) {
        int length = path.length();
        int segmentStart = 1;
        for (int i = 1; i <= length; i++) {
            if (i < length && path.charAt(i) != '/') {
                continue;
            }
            int segmentEnd = i;
            if (segmentEnd == segmentStart) {
                if (i < length) {
                    return RejectReason.EMPTY_SEGMENT;
                }
            } else {
                int nameEnd = segmentStart;
                while (nameEnd < segmentEnd && path.charAt(nameEnd) != ';') {
                    nameEnd++;
                }
                int nameLength = nameEnd - segmentStart;
                if ((nameLength == 1 || nameLength == 2) && path.charAt(segmentStart) == '.'
                        && path.charAt(nameEnd - 1) == '.') {
                    return RejectReason.DOT_SEGMENT;
                }
            }
            segmentStart = i + 1;
        }
        return null;
    }

    private static RejectReason query(String query) {
        int length = query.length();
        for (int i = 0; i < length; i++) {
            char c = query.charAt(i);
            if (c == '%') {
                if (i + 2 >= length) {
                    return RejectReason.INVALID_PERCENT_ENCODING;
                }
                int hi = hex(query.charAt(i + 1));
                int lo = hex(query.charAt(i + 2));
                if (hi < 0 || lo < 0) {
                    return RejectReason.INVALID_PERCENT_ENCODING;
                }
                if (hi == 0 && lo == 0) {
                    return RejectReason.ENCODED_CONTROL;
                }
                i += 2;
            } else if (c == '\\') {
                return RejectReason.BACKSLASH;
            } else if (!(c == '/' || c == '?' || (c < 0x80 && PCHAR[c]))) {
                return RejectReason.INVALID_TARGET_CHARACTER;
            }
        }
        return null;
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }
}
