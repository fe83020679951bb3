package dev.tollgate.proxy.http;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.tollgate.proxy.config.ConfigDefaults;

/**
 * Size and time limits applied to every inbound HTTP request. All defaults live in {@link #defaults()}.
 *
 * @param maxInitialLineLength  longest request line in bytes, CRLF excluded
 * @param maxHeaderSize         total bytes of all header lines of one request, CRLFs excluded
 * @param maxHeaderCount        most header field lines in one request
 * @param maxContentChunkSize   largest {@code HttpContent} the decoder emits; bigger bodies are split, not refused
 * @param maxBufferedBodyBytes  largest body a handler that buffers a whole body (for example to read a JSON-RPC
 *                              call) may buffer; streamed bodies are not bounded by it
 * @param headerReadTimeout     time to receive a whole request head: from the connection's start for the first
 *                              request, from its first byte for later ones (slowloris bound)
 */
public record HttpLimits(int maxInitialLineLength, int maxHeaderSize, int maxHeaderCount, int maxContentChunkSize,
                         int maxBufferedBodyBytes, Duration headerReadTimeout) {

    public HttpLimits {
        List<String> errors = new ArrayList<>();
        positive(errors, "maxInitialLineLength", maxInitialLineLength);
        positive(errors, "maxHeaderSize", maxHeaderSize);
        positive(errors, "maxHeaderCount", maxHeaderCount);
        positive(errors, "maxContentChunkSize", maxContentChunkSize);
        positive(errors, "maxBufferedBodyBytes", maxBufferedBodyBytes);
        positive(errors, "headerReadTimeout", headerReadTimeout);
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", errors));
        }
    }

    /** The sidecar's defaults, from {@link ConfigDefaults}: 8 KiB request line, 16 KiB of headers, 100 headers,
     *  64 KiB chunks, 1 MiB buffered body, 10 s to read a head. */
    public static HttpLimits defaults() {
        return new HttpLimits(ConfigDefaults.MAX_INITIAL_LINE, ConfigDefaults.MAX_HEADER_SIZE,
                ConfigDefaults.MAX_HEADER_COUNT, ConfigDefaults.MAX_CHUNK_SIZE, ConfigDefaults.MAX_BUFFERED_BODY,
                ConfigDefaults.HEADER_READ_TIMEOUT);
    }

    /** A builder that starts from {@link #defaults()}. */
    public static Builder builder() {
        return new Builder(defaults());
    }

    /** A builder that starts from these limits. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    private static void positive(List<String> errors, String name, int value) {
        if (value <= 0) {
            errors.add(name + ": " + value + " (expected: > 0)");
        }
    }

    private static void positive(List<String> errors, String name, Duration value) {
        if (value == null) {
            errors.add(name + ": null (expected: > 0s)");
        } else if (value.isNegative() || value.isZero()) {
            errors.add(name + ": " + value.toMillis() + "ms (expected: > 0s)");
        }
    }

    /** Builds {@link HttpLimits}; {@link #build()} reports every invalid value at once. */
    public static final class Builder {
        private int maxInitialLineLength;
        private int maxHeaderSize;
        private int maxHeaderCount;
        private int maxContentChunkSize;
        private int maxBufferedBodyBytes;
        private Duration headerReadTimeout;

        private Builder(HttpLimits from) {
            maxInitialLineLength = from.maxInitialLineLength;
            maxHeaderSize = from.maxHeaderSize;
            maxHeaderCount = from.maxHeaderCount;
            maxContentChunkSize = from.maxContentChunkSize;
            maxBufferedBodyBytes = from.maxBufferedBodyBytes;
            headerReadTimeout = from.headerReadTimeout;
        }

        public Builder maxInitialLineLength(int v) {
            maxInitialLineLength = v;
            return this;
        }

        public Builder maxHeaderSize(int v) {
            maxHeaderSize = v;
            return this;
        }

        public Builder maxHeaderCount(int v) {
            maxHeaderCount = v;
            return this;
        }

        public Builder maxContentChunkSize(int v) {
            maxContentChunkSize = v;
            return this;
        }

        public Builder maxBufferedBodyBytes(int v) {
            maxBufferedBodyBytes = v;
            return this;
        }

        public Builder headerReadTimeout(Duration v) {
            headerReadTimeout = v;
            return this;
        }

        public HttpLimits build() {
            return new HttpLimits(maxInitialLineLength, maxHeaderSize, maxHeaderCount, maxContentChunkSize,
                    maxBufferedBodyBytes, headerReadTimeout);
        }
    }
}
