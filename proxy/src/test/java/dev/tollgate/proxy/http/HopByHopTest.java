package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;

import org.junit.jupiter.api.Test;

class HopByHopTest {

    @Test
    void removesConnectionAndEveryFieldItNamesFromARequest() {
        HttpHeaders h = new DefaultHttpHeaders()
                .add("Host", "tool").add("Connection", "keep-alive, X-Foo").add("connection", "x-bar")
                .add("X-Foo", "1").add("X-Bar", "2").add("Keep-Alive", "timeout=5").add("Proxy-Connection", "close")
                .add("Upgrade", "websocket").add("Proxy-Authorization", "Basic abc").add("Authorization", "Bearer t")
                .add("Content-Length", "2");
        HopByHop.removeFromRequest(h);
        assertThat(h.names()).containsExactlyInAnyOrder("Host", "Authorization", "Content-Length");
    }

    @Test
    void keepsTeTrailersOnlyOnRequests() {
        HttpHeaders withTrailers = new DefaultHttpHeaders().add("TE", "gzip;q=0.5, Trailers;q=1");
        HopByHop.removeFromRequest(withTrailers);
        assertThat(withTrailers.getAll("te")).containsExactly("trailers");

        HttpHeaders withoutTrailers = new DefaultHttpHeaders().add("TE", "gzip");
        HopByHop.removeFromRequest(withoutTrailers);
        assertThat(withoutTrailers.contains("te")).isFalse();
    }

    @Test
    void onEntryOnlyTheFieldsConnectionNamesGoAndTeTrailersNamedThereIsStillForwarded() {
        HttpHeaders h = new DefaultHttpHeaders().add("Host", "tool").add("Connection", "close, TE, content-type")
                .add("TE", "trailers").add("Content-Type", "application/json").add("Keep-Alive", "timeout=5");
        HopByHop.removeNamedFields(h);
        assertThat(h.names()).containsExactlyInAnyOrder("Host", "Connection", "TE", "Keep-Alive");
        HopByHop.removeFromRequest(h);
        assertThat(h.names()).containsExactlyInAnyOrder("Host", "te");
        assertThat(h.getAll("te")).containsExactly("trailers");
    }

    @Test
    void neverRemovesFramingOrHostEvenWhenConnectionNamesThem() {
        HttpHeaders h = new DefaultHttpHeaders().add("Host", "tool").add("Transfer-Encoding", "chunked")
                .add("Connection", "Transfer-Encoding, Content-Length, Host");
        HopByHop.removeFromRequest(h);
        assertThat(h.names()).containsExactlyInAnyOrder("Host", "Transfer-Encoding");
    }

    @Test
    void removesHopByHopFieldsAndProxyAuthenticateFromAResponse() {
        HttpHeaders h = new DefaultHttpHeaders().add("Content-Type", "application/json")
                .add("Connection", "close, X-Internal").add("X-Internal", "1").add("Keep-Alive", "timeout=5")
                .add("Proxy-Authenticate", "Basic").add("TE", "trailers").add("Upgrade", "h2c")
                .add("WWW-Authenticate", "Bearer");
        HopByHop.removeFromResponse(h);
        assertThat(h.names()).containsExactlyInAnyOrder("Content-Type", "WWW-Authenticate");
    }
}
