package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import io.netty.handler.codec.http.HttpDecoderConfig;

import org.junit.jupiter.api.Test;

class HttpLimitsTest {

    @Test
    void hasTheDocumentedDefaults() {
        HttpLimits d = HttpLimits.defaults();
        assertThat(d.maxInitialLineLength()).isEqualTo(8192);
        assertThat(d.maxHeaderSize()).isEqualTo(16384);
        assertThat(d.maxHeaderCount()).isEqualTo(100);
        assertThat(d.maxBufferedBodyBytes()).isEqualTo(1 << 20);
        assertThat(d.maxContentChunkSize()).isEqualTo(64 * 1024);
        assertThat(d.headerReadTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(HttpLimits.builder().build()).isEqualTo(d);
    }

    @Test
    void reportsEveryInvalidValueAtOnce() {
        assertThatThrownBy(() -> HttpLimits.builder().maxHeaderCount(0).headerReadTimeout(Duration.ZERO)
                .maxBufferedBodyBytes(-1).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxHeaderCount: 0 (expected: > 0); maxBufferedBodyBytes: -1 (expected: > 0);"
                        + " headerReadTimeout: 0ms (expected: > 0s)");
    }

    @Test
    void decoderConfigIsStrictAndUsesTheLimits() {
        HttpLimits limits = HttpLimits.builder().maxInitialLineLength(100).maxHeaderSize(200)
                .maxContentChunkSize(300).build();
        HttpDecoderConfig config = HttpDecoding.decoderConfig(limits);
        assertThat(config.getMaxInitialLineLength()).isEqualTo(100);
        assertThat(config.getMaxHeaderSize()).isEqualTo(200);
        assertThat(config.getMaxChunkSize()).isEqualTo(300);
        assertThat(config.isStrictLineParsing()).isTrue();
        assertThat(config.isAllowDuplicateContentLengths()).isFalse();
        assertThat(config.isUseRfc9112TransferEncoding()).isTrue();
    }
}
