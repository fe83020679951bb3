package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;

import dev.tollgate.api.InvalidSpiffeIdException;

import org.junit.jupiter.api.Test;

class IdentityHeaderTest {
    private static final String AGENT = "spiffe://example.org/agent/planner";

    @Test
    void replacesEveryIncomingCopyWhateverItsCaseByTheVerifiedId() {
        HttpHeaders h = new DefaultHttpHeaders().add("X-Tollgate-Peer-Id", "spiffe://evil/agent/x")
                .add("x-tollgate-peer-id", "spiffe://evil/agent/y").add("X-TOLLGATE-PEER-ID", "z").add("Host", "a");
        IdentityHeader.setVerified(h, AGENT);
        assertThat(h.getAll(IdentityHeader.NAME)).containsExactly(AGENT);
        assertThat(h.entries()).hasSize(2);
    }

    @Test
    void stripRemovesEveryIncomingCopy() {
        HttpHeaders h = new DefaultHttpHeaders().add("X-Tollgate-Peer-Id", "a").add("x-tollgate-peer-id", "b");
        IdentityHeader.strip(h);
        assertThat(h.isEmpty()).isTrue();
    }

    @Test
    void refusesAValueThatIsNotASpiffeId() {
        HttpHeaders h = new DefaultHttpHeaders().add("x-tollgate-peer-id", "spiffe://evil/agent/x");
        assertThatThrownBy(() -> IdentityHeader.setVerified(h, "spiffe://example.org/agent/a\r\nX-Injected: 1"))
                .isInstanceOf(InvalidSpiffeIdException.class);
        assertThat(h.getAll(IdentityHeader.NAME)).containsExactly("spiffe://evil/agent/x");
    }
}
