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
    void aSpellingWithUnderscoresForDashesIsACopyToo() {
        HttpHeaders h = new DefaultHttpHeaders().add("x_tollgate_peer_id", "spiffe://evil/agent/x")
                .add("X_Tollgate-Peer_ID", "spiffe://evil/agent/y").add("x-tollgate-peer-idx", "kept")
                .add("x.tollgate.peer.id", "spiffe://evil/agent/w").add("x_tollgate_peer", "kept");
        IdentityHeader.setVerified(h, AGENT);
        assertThat(h.getAll(IdentityHeader.NAME)).containsExactly(AGENT);
        assertThat(h.names()).containsExactlyInAnyOrder("x-tollgate-peer-id", "x-tollgate-peer-idx", "x_tollgate_peer");
        HttpHeaders egress = new DefaultHttpHeaders().add("X_TOLLGATE_PEER_ID", "spiffe://evil/agent/z");
        IdentityHeader.strip(egress);
        assertThat(egress.isEmpty()).isTrue();
    }

    @Test
    void underscoreSpellingsOfAnotherHeaderGoAndTheHeaderItselfStays() {
        HttpHeaders h = new DefaultHttpHeaders().add("Tollgate-Token", "checked").add("tollgate_token", "x")
                .add("TOLLGATE_TOKEN", "y").add("tollgate_tokens", "kept");
        IdentityHeader.strip(h, io.netty.util.AsciiString.cached("tollgate-token"));
        assertThat(h.names()).containsExactlyInAnyOrder("Tollgate-Token", "tollgate_tokens");
        HttpHeaders verified = new DefaultHttpHeaders().add("tollgate_token", "x").add("X_Tollgate_Peer_Id", "y");
        IdentityHeader.setVerified(verified, AGENT, io.netty.util.AsciiString.cached("tollgate-token"));
        assertThat(verified.names()).containsExactly("x-tollgate-peer-id");
    }

    @Test
    void refusesAValueThatIsNotASpiffeId() {
        HttpHeaders h = new DefaultHttpHeaders().add("x-tollgate-peer-id", "spiffe://evil/agent/x");
        assertThatThrownBy(() -> IdentityHeader.setVerified(h, "spiffe://example.org/agent/a\r\nX-Injected: 1"))
                .isInstanceOf(InvalidSpiffeIdException.class);
        assertThat(h.getAll(IdentityHeader.NAME)).containsExactly("spiffe://evil/agent/x");
    }
}
