package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;

import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.config.HostPort;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.RequestContext;

class UpstreamRouterTest {
    static SidecarConfig.Upstream upstream(String name, String host, String prefix) {
        return new SidecarConfig.Upstream(name, 0, HostPort.parse("x:1"), new SidecarConfig.ExternalTls(Optional.empty()),
                new SidecarConfig.Match(Optional.ofNullable(host), Optional.ofNullable(prefix)), Duration.ofSeconds(1),
                Duration.ofSeconds(1), Duration.ofSeconds(1), 1);
    }

    final UpstreamRouter router = new UpstreamRouter(List.of(upstream("billing", "billing.internal", null),
            upstream("search", null, "/search"), upstream("search-admin", null, "/search/admin"),
            upstream("root", null, "/api/")));

    /** Routed as the request context routes a head: with its Host header and the path it parsed once. */
    private Optional<String> route(String host, String uri) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        if (host != null) {
            r.headers().set("Host", host);
        }
        return RequestContext.routed(Direction.EGRESS, r, router, Optional.empty(), Optional.empty()).route()
                .map(SidecarConfig.Upstream::name);
    }

    @Test
    void matchesHostWithoutPortAndCase() {
        assertThat(route("Billing.Internal:8080", "/x")).contains("billing");
        assertThat(route("billing.internal.evil", "/x")).isEmpty();
    }

    @Test
    void matchesLongestPathPrefixOnSegmentBoundaries() {
        assertThat(route(null, "/search")).contains("search");
        assertThat(route(null, "/search/q?x=1")).contains("search");
        assertThat(route(null, "/search/admin/users")).contains("search-admin");
        assertThat(route(null, "/searchx")).isEmpty();
        assertThat(route(null, "/api/v1")).contains("root");
        assertThat(route("unknown.host", "/nothing")).isEmpty();
    }
}
