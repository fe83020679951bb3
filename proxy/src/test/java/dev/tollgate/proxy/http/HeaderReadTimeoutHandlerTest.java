package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.TimeUnit;


import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HeaderReadTimeoutHandlerTest {
    private static final HttpLimits LIMITS = HttpLimits.builder()
            .headerReadTimeout(Duration.ofSeconds(10)).build();

    private final HardenedPipeline pipeline = new HardenedPipeline(LIMITS);

    @AfterEach
    void close() {
        pipeline.close();
    }

    private void advance(Duration d) {
        pipeline.channel.advanceTimeBy(d.toNanos(), TimeUnit.NANOSECONDS);
        pipeline.channel.runPendingTasks();
        pipeline.channel.runScheduledPendingTasks();
    }

    @Test
    void closesAConnectionWhoseHeadIsNotCompleteWithinTheDeadline() {
        pipeline.write("GET /x HTTP/1.1\r\nHost: to");
        advance(Duration.ofMillis(9_999));
        assertThat(pipeline.channel.isOpen()).isTrue();
        pipeline.write("o");
        advance(Duration.ofMillis(2));
        assertThat(pipeline.channel.isOpen()).isFalse();
        assertThat(pipeline.rejections).containsExactly(RejectReason.HEADER_READ_TIMEOUT);
        assertThat(pipeline.passed).isEmpty();
        assertThat(pipeline.response()).startsWith("HTTP/1.1 408 Request Timeout")
                .endsWith("{\"error\":\"bad_request\",\"reason\":\"header_read_timeout\"}");
    }

    @Test
    void timesTheFirstHeadFromTheConnectionStart() {
        advance(Duration.ofMillis(9_999));
        assertThat(pipeline.channel.isOpen()).isTrue();
        advance(Duration.ofMillis(2));
        assertThat(pipeline.channel.isOpen()).isFalse();
        assertThat(pipeline.rejections).containsExactly(RejectReason.HEADER_READ_TIMEOUT);
        assertThat(pipeline.response()).startsWith("HTTP/1.1 408 Request Timeout");
    }

    @Test
    void keepsAConnectionWhoseHeadCompletedInTime() {
        pipeline.write("GET /x HTTP/1.1\r\n");
        advance(Duration.ofSeconds(5));
        pipeline.write("Host: tool\r\n\r\n");
        advance(Duration.ofSeconds(20));
        assertThat(pipeline.channel.isOpen()).isTrue();
        assertThat(pipeline.rejections).isEmpty();
        assertThat(pipeline.passed).containsExactly("REQ GET /x HTTP/1.1 [Host=tool]", "LAST ");
    }

    @Test
    void timesTheNextHeadFromItsOwnFirstByte() {
        pipeline.write("GET /x HTTP/1.1\r\n");
        advance(Duration.ofSeconds(9));
        pipeline.write("Host: tool\r\n\r\nGET /y HTTP/1.1\r\n");
        advance(Duration.ofSeconds(9));
        assertThat(pipeline.channel.isOpen()).isTrue();
        advance(Duration.ofSeconds(2));
        assertThat(pipeline.channel.isOpen()).isFalse();
        assertThat(pipeline.rejections).containsExactly(RejectReason.HEADER_READ_TIMEOUT);
        // GET /x still waits for its response: a 408 would be read as that response, so there is none.
        assertThat(pipeline.response()).isEmpty();
    }

    @Test
    void doesNotTimeABodyThatIsSlowToArrive() {
        pipeline.write("POST /x HTTP/1.1\r\nHost: tool\r\nContent-Length: 2\r\n\r\n{");
        advance(Duration.ofSeconds(30));
        assertThat(pipeline.channel.isOpen()).isTrue();
        assertThat(pipeline.rejections).isEmpty();
    }
}
