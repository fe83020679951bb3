package dev.tollgate.proxy.listener;

import java.util.Optional;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;

import dev.tollgate.api.SpiffeId;

/** The verified peer identity of a connection, set once after its handshake; HTTP/2 streams read their parent's. */
public final class Peers {
    static final AttributeKey<SpiffeId> PEER = AttributeKey.valueOf("tollgate.peer");

    private Peers() {
    }

    public static Optional<SpiffeId> of(Channel ch) {
        for (Channel c = ch; c != null; c = c.parent()) {
            SpiffeId id = c.attr(PEER).get();
            if (id != null) {
                return Optional.of(id);
            }
        }
        return Optional.empty();
    }

    static void set(Channel ch, SpiffeId id) {
        ch.attr(PEER).set(id);
    }
}
