package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.LocalAnswer;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.GateRequest;
import dev.tollgate.proxy.gate.IdentityAllowListGate;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.RequestOutcome;

class RequestGateHandlerTest {
    private EmbeddedChannel channel(RequestGate gate) {
        return new EmbeddedChannel(new RequestGateHandler(gate, Direction.INGRESS,
                () -> Optional.of(SpiffeId.parse("spiffe://example.org/tool/self"))));
    }

    private static HttpRequest head() {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/tools/call");
    }

    private static HttpContent chunk(String s) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
    }

    @Test
    void holdsTheRequestUntilAnAsynchronousGateAllowsIt() {
        CompletableFuture<GateDecision> pending = new CompletableFuture<>();
        AtomicReference<GateRequest> seen = new AtomicReference<>();
        EmbeddedChannel ch = channel(r -> {
            seen.set(r);
            return pending;
        });

        ch.writeInbound(head(), chunk("abc"), new DefaultLastHttpContent(Unpooled.copiedBuffer("d",
                StandardCharsets.UTF_8)));
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(seen.get().own()).contains(SpiffeId.parse("spiffe://example.org/tool/self"));

        pending.complete(GateDecision.allow());
        ch.runPendingTasks();

        assertThat((Object) ch.readInbound()).isInstanceOf(HttpRequest.class);
        HttpContent c1 = ch.readInbound();
        assertThat(c1.content().toString(StandardCharsets.UTF_8)).isEqualTo("abc");
        c1.release();
        LastHttpContent c2 = ch.readInbound();
        c2.release();
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void replacesADeniedRequestWithALocalAnswerAndForwardsNothingOfIt() {
        EmbeddedChannel ch = channel(new IdentityAllowListGate(new SidecarConfig.Identity(
                java.util.Set.of(SpiffeId.parse("spiffe://example.org/agent/a")), java.util.Set.of())));

        ch.writeInbound(head(), chunk("secret"), new DefaultLastHttpContent());

        assertThat((Object) ch.readInbound()).isEqualTo(new LocalAnswer(403, "peer_not_allowed",
                "no verified peer identity", RequestOutcome.DENIED));
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void failsClosedWhenTheGateThrows() {
        EmbeddedChannel ch = channel(r -> {
            throw new IllegalStateException("policy store down");
        });

        ch.writeInbound(head());

        LocalAnswer a = ch.readInbound();
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.error()).isEqualTo("gate_unavailable");
        assertThat(a.outcome()).isEqualTo(RequestOutcome.UNAVAILABLE);
    }

    @Test
    void chainStopsAtTheFirstDenial() {
        AtomicReference<Boolean> secondAsked = new AtomicReference<>(false);
        RequestGate chain = RequestGate.chain(List.of(
                r -> CompletableFuture.completedFuture(GateDecision.deny(401, "credential_missing", "no token")),
                r -> {
                    secondAsked.set(true);
                    return CompletableFuture.completedFuture(GateDecision.allow());
                }));
        EmbeddedChannel ch = channel(chain);

        ch.writeInbound(head());

        LocalAnswer a = ch.readInbound();
        assertThat(a.status()).isEqualTo(401);
        assertThat(secondAsked.get()).isFalse();
    }
}
