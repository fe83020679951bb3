package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumSet;

import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.metrics.UpstreamErrorKind;

/**
 * One answer per upstream failure, whether acquiring a connection or stream failed or the upstream failed the request
 * afterwards (both paths of {@link HttpForwarder} answer through {@link HttpForwarder#statusFor}): an acquire refused
 * for the upstream's stream limit is an overload (503), not a 502 that blames the upstream.
 */
class UpstreamFailureStatusTest {

    @Test
    void busyUpstreamOrPoolIsAnOverloadWhicheverPathFailed() {
        assertThat(HttpForwarder.statusFor(UpstreamErrorKind.POOL_EXHAUSTED)).isEqualTo(503);
        assertThat(HttpForwarder.statusFor(UpstreamErrorKind.REFUSED_STREAM)).isEqualTo(503);
    }

    @Test
    void connectTimeoutIsAGatewayTimeoutAndEveryOtherFailureABadGateway() {
        assertThat(HttpForwarder.statusFor(UpstreamErrorKind.CONNECT_TIMEOUT)).isEqualTo(504);
        for (UpstreamErrorKind k : EnumSet.complementOf(EnumSet.of(UpstreamErrorKind.POOL_EXHAUSTED,
                UpstreamErrorKind.REFUSED_STREAM, UpstreamErrorKind.CONNECT_TIMEOUT))) {
            assertThat(HttpForwarder.statusFor(k)).as(k.name()).isEqualTo(502);
        }
    }
}
