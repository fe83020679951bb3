package dev.tollgate.proxy.http;

import io.netty.handler.codec.http.HttpDecoderConfig;

/**
 * The strict decoder configuration for every HTTP/1.1 server codec of the sidecar.
 *
 * <p>With this configuration Netty 4.2.18's decoder itself fails the request (a failed {@code DecoderResult}, which
 * {@link RequestHardeningHandler} answers with 400) for: Content-Length together with Transfer-Encoding; duplicate or
 * list Content-Length (even equal values); empty, signed or non-numeric Content-Length; a final transfer coding
 * other than chunked ({@code xchunked}, {@code chunked, identity}); chunked applied twice (also over two header
 * lines); Transfer-Encoding on HTTP/1.0; a bare LF ending the request line, a header line or a chunk-size line;
 * a bare CR or NUL in a header; whitespace before a colon; non-token header names; chunk sizes that are not
 * hexadecimal, carry whitespace or overflow an int; chunk data not followed by CRLF; lines over the limits.
 *
 * <p>It lets through, normalising silently, what {@link Http1FramingGuard} therefore refuses before the decoder
 * sees it: obs-fold (joined with a space), empty lines and whitespace before the request line (skipped), several
 * spaces or a tab between request-line parts, a version other than 1.0/1.1, control bytes at the end of the
 * request target (trimmed), chunk extensions (dropped), trailer fields, Content-Length with leading zeros,
 * {@code identity, chunked} and {@code Chunked}, and non-ASCII bytes in the request target.
 */
public final class HttpDecoding {
    private HttpDecoding() {
    }

    /** A new decoder configuration with strict line parsing, header validation and the limits given. */
    public static HttpDecoderConfig decoderConfig(HttpLimits limits) {
        return new HttpDecoderConfig()
                .setMaxInitialLineLength(limits.maxInitialLineLength())
                .setMaxHeaderSize(limits.maxHeaderSize())
                .setMaxChunkSize(limits.maxContentChunkSize())
                .setStrictLineParsing(true)
                .setValidateHeaders(true)
                .setAllowDuplicateContentLengths(false)
                .setUseRfc9112TransferEncoding(true)
                .setChunkedSupported(true);
    }
}
