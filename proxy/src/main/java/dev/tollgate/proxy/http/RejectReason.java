package dev.tollgate.proxy.http;

import java.util.Locale;

/**
 * Why a request or connection was refused before anything was forwarded. Closed, so that its {@link #tag()} is a
 * safe metric tag value and a stable {@code reason} in the error body.
 */
public enum RejectReason {
    /** The HTTP decoder failed for a reason not named below. */
    MALFORMED_REQUEST,
    /** Request line is not exactly {@code method SP request-target SP HTTP/1.0|HTTP/1.1}. */
    INVALID_REQUEST_LINE,
    /** Request line longer than {@link HttpLimits#maxInitialLineLength()}. Answered 414. */
    REQUEST_LINE_TOO_LONG,
    /** Bytes (empty lines, whitespace or control bytes) before the request line. */
    LEADING_CONTROL_BYTES,
    /** A CR not followed by LF. */
    BARE_CR,
    /** A LF not preceded by CR. */
    BARE_LF,
    /** A header line starting with whitespace: obs-fold, or whitespace before the first header. */
    OBS_FOLD,
    /** Whitespace between a header name and its colon. */
    WHITESPACE_BEFORE_COLON,
    /** Header line without colon, empty or non-token name, or a control or non-ASCII byte in a value. */
    INVALID_HEADER,
    /** More header lines than {@link HttpLimits#maxHeaderCount()}. Answered 431. */
    TOO_MANY_HEADERS,
    /** Header lines larger in total than {@link HttpLimits#maxHeaderSize()}. Answered 431. */
    HEADERS_TOO_LARGE,
    /** HTTP/1.1 request without Host. */
    MISSING_HOST,
    /** More than one Host header. */
    DUPLICATE_HOST,
    /** Both Content-Length and Transfer-Encoding. */
    CONTENT_LENGTH_WITH_TRANSFER_ENCODING,
    /** More than one Content-Length header line, or a list value. */
    DUPLICATE_CONTENT_LENGTH,
    /** Content-Length empty, not all digits, with a sign or leading zero, or too large. */
    INVALID_CONTENT_LENGTH,
    /** Transfer-Encoding other than exactly one {@code chunked}, or on an HTTP/1.0 request. */
    UNSUPPORTED_TRANSFER_ENCODING,
    /** Chunk size line empty, not hexadecimal, or larger than 2^31-1. */
    INVALID_CHUNK_SIZE,
    /** Chunk extension ({@code ;name=value} after the chunk size). */
    CHUNK_EXTENSION,
    /** Chunk data not followed by CRLF. */
    INVALID_CHUNK_FRAMING,
    /** Trailer fields after the last chunk. */
    TRAILERS_NOT_ALLOWED,
    /** Request target empty or in no form this proxy accepts. */
    INVALID_TARGET,
    /** Absolute-form request target ({@code http://host/path}). */
    ABSOLUTE_FORM_NOT_ALLOWED,
    /** Authority-form request target or CONNECT. */
    AUTHORITY_FORM_NOT_ALLOWED,
    /** Asterisk-form request target on a method other than OPTIONS. */
    ASTERISK_FORM_NOT_ALLOWED,
    /** A character not allowed in a request target (space, control, non-ASCII, {@code #}, {@code "}, ...). */
    INVALID_TARGET_CHARACTER,
    /** A raw backslash in the path. */
    BACKSLASH,
    /** {@code %2F} in the path. */
    ENCODED_SLASH,
    /** {@code %5C} in the path. */
    ENCODED_BACKSLASH,
    /** A percent-encoded control byte ({@code %00} to {@code %1F}, {@code %7F}) in the path, or {@code %00}
     *  in the query. */
    ENCODED_CONTROL,
    /** {@code %} not followed by two hexadecimal digits. */
    INVALID_PERCENT_ENCODING,
    /** A {@code .} or {@code ..} path segment, raw or encoded, also with a {@code ;} parameter. */
    DOT_SEGMENT,
    /** An empty path segment ({@code //}). */
    EMPTY_SEGMENT,
    /** The request head did not arrive within {@link HttpLimits#headerReadTimeout()}. Answered 408. */
    HEADER_READ_TIMEOUT;

    private final String tag = name().toLowerCase(Locale.ROOT);

    /** The lower-case name: the metric tag value and the {@code reason} field of the error body. */
    public String tag() {
        return tag;
    }
}
