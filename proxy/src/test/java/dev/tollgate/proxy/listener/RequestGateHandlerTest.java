package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.LocalAnswer;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.IdentityAllowListGate;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.request.EnforcementWalk;
import dev.tollgate.proxy.request.EnforcementWalk.Step;
import dev.tollgate.proxy.request.HeaderEdit;
import dev.tollgate.proxy.request.RequestContext;
import dev.tollgate.proxy.request.RequestView;

class RequestGateHandlerTest {
    static final SpiffeId SELF = SpiffeId.parse("spiffe://example.org/tool/self");
    static final SidecarConfig.Upstream CRM = new SidecarConfig.Upstream("crm", -1,
            dev.tollgate.proxy.config.HostPort.parse("127.0.0.1:9"), new SidecarConfig.PlainText(),
            new SidecarConfig.Match(Optional.empty(), Optional.empty()),
            dev.tollgate.proxy.config.ConfigDefaults.UPSTREAM_CONNECT_TIMEOUT, java.time.Duration.ofSeconds(60),
            dev.tollgate.proxy.config.ConfigDefaults.UPSTREAM_REQUEST_TIMEOUT,
            dev.tollgate.proxy.config.ConfigDefaults.UPSTREAM_POOL_SIZE,
            SidecarConfig.Inspect.NONE);

    private static EmbeddedChannel channel(EnforcementWalk walk) {
        return channel(walk, (host, path) -> Optional.of(CRM));
    }

    private static EmbeddedChannel channel(EnforcementWalk walk,
                                           RequestContext.Router router) {
        return new EmbeddedChannel(new RequestContextHandler(Direction.INGRESS, router, () -> Optional.of(SELF)),
                new RequestGateHandler(walk, Direction.INGRESS));
    }

    private static EnforcementWalk walk(RequestGate gate) {
        return EnforcementWalk.empty().with(Step.EXTENSION, gate);
    }

    private static HttpRequest head() {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/tools/call?x=1");
    }

    private static HttpContent chunk(String s) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
    }

    @Test
    void holdsTheRequestUntilAnAsynchronousGateAllowsIt() {
        CompletableFuture<GateDecision> pending = new CompletableFuture<>();
        AtomicReference<RequestView> seen = new AtomicReference<>();
        EmbeddedChannel ch = channel(walk(r -> {
            seen.set(r);
            return GateDecision.pending(pending);
        }));

        ch.writeInbound(head(), chunk("abc"), new DefaultLastHttpContent(Unpooled.copiedBuffer("d",
                StandardCharsets.UTF_8)));
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(seen.get().own()).contains(SELF);
        assertThat(seen.get().path()).isEqualTo("/tools/call");
        assertThat(seen.get().query()).isEqualTo("x=1");

        pending.complete(GateDecision.allow());
        ch.runPendingTasks();

        assertThat((Object) ch.readInbound()).isInstanceOf(RequestContext.class);
        HttpContent c1 = ch.readInbound();
        assertThat(c1.content().toString(StandardCharsets.UTF_8)).isEqualTo("abc");
        c1.release();
        LastHttpContent c2 = ch.readInbound();
        c2.release();
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void replacesADeniedRequestWithALocalAnswerAndForwardsNothingOfIt() {
        EmbeddedChannel ch = channel(EnforcementWalk.empty().with(Step.PEER_IDENTITY, new IdentityAllowListGate(
                new SidecarConfig.Identity(java.util.Set.of(SpiffeId.parse("spiffe://example.org/agent/a")),
                        java.util.Set.of()))));

        ch.writeInbound(head(), chunk("secret"), new DefaultLastHttpContent());

        assertThat((Object) ch.readInbound()).isEqualTo(new LocalAnswer(403, "peer_not_allowed",
                "no verified peer identity", RequestOutcome.DENIED));
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void failsClosedWhenTheGateThrows() {
        EmbeddedChannel ch = channel(walk(r -> {
            throw new IllegalStateException("policy store down");
        }));

        ch.writeInbound(head());

        LocalAnswer a = ch.readInbound();
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.error()).isEqualTo("gate_unavailable");
        assertThat(a.outcome()).isEqualTo(RequestOutcome.UNAVAILABLE);
    }

    @Test
    void failsClosedWhenAWaitingGateFails() {
        EmbeddedChannel ch = channel(walk(r -> GateDecision.pending(
                CompletableFuture.failedFuture(new IllegalStateException("exchange down")))));

        ch.writeInbound(head());
        ch.runPendingTasks();

        LocalAnswer a = ch.readInbound();
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.error()).isEqualTo("gate_unavailable");
    }

    @Test
    void theWalkRunsItsStepsInTheEnforcementOrderAndStopsAtTheFirstDenial() {
        List<Step> asked = new ArrayList<>();
        EnforcementWalk walk = EnforcementWalk.empty();
        // Added out of order on purpose: the order is the walk's, not the caller's.
        for (Step s : List.of(Step.EXTENSION, Step.POLICY, Step.TOOL_CALL, Step.CREDENTIAL, Step.PEER_IDENTITY,
                Step.READY)) {
            walk = walk.with(s, r -> {
                asked.add(s);
                return s == Step.POLICY ? GateDecision.deny(403, "denied", "by policy") : GateDecision.allow();
            });
        }
        EmbeddedChannel ch = channel(walk);

        ch.writeInbound(head());

        LocalAnswer a = ch.readInbound();
        assertThat(a.status()).isEqualTo(403);
        assertThat(asked).containsExactly(Step.READY, Step.PEER_IDENTITY, Step.CREDENTIAL, Step.TOOL_CALL,
                Step.POLICY);
    }

    @Test
    void theRouteIsChosenOncePerRequestWhateverTheStepsRead() {
        AtomicInteger routed = new AtomicInteger();
        RequestGate readsRoute = r -> r.route().orElseThrow() == CRM ? GateDecision.allow()
                : GateDecision.deny(403, "x", "y");
        EnforcementWalk walk = EnforcementWalk.empty().with(Step.CREDENTIAL, readsRoute)
                .with(Step.TOOL_CALL, readsRoute).with(Step.POLICY, readsRoute).with(Step.EXTENSION, readsRoute);
        EmbeddedChannel ch = channel(walk, (host, path) -> {
            routed.incrementAndGet();
            return Optional.of(CRM);
        });

        // Two pipelined requests.
        ch.writeInbound(head(), new DefaultLastHttpContent(), head(), new DefaultLastHttpContent());

        RequestContext first = ch.readInbound();
        assertThat(first.route()).contains(CRM);
        ((LastHttpContent) ch.readInbound()).release();
        assertThat((Object) ch.readInbound()).isInstanceOf(RequestContext.class);
        ((LastHttpContent) ch.readInbound()).release();
        assertThat(routed).as("one routing per request").hasValue(2);
    }

    @Test
    void gatesDecideHeaderEditsThatTheContextCollectsInWalkOrderWithoutTouchingTheRequest() {
        EnforcementWalk walk = EnforcementWalk.empty()
                .with(Step.POLICY, r -> GateDecision.Allow.withEdits(List.of(HeaderEdit.set("x-second", "2"))))
                .with(Step.CREDENTIAL, r -> GateDecision.Allow.withEdits(List.of(HeaderEdit.remove("x-secret"),
                        HeaderEdit.set("x-first", "1"))));
        EmbeddedChannel ch = channel(walk);
        HttpRequest head = head();
        head.headers().set("x-secret", "s");

        ch.writeInbound(head);

        RequestContext rc = ch.readInbound();
        assertThat(rc.head().headers().get("x-secret")).as("the request itself is unchanged").isEqualTo("s");
        assertThat(rc.head().headers().contains("x-first")).isFalse();
        assertThat(rc.edits()).containsExactly(HeaderEdit.remove("x-secret"), HeaderEdit.set("x-first", "1"),
                HeaderEdit.set("x-second", "2"));

        HeaderEdit.applyAll(rc.edits(), rc.head().headers());
        assertThat(rc.head().headers().contains("x-secret")).isFalse();
        assertThat(rc.head().headers().get("x-first")).isEqualTo("1");
        assertThat(rc.head().headers().get("x-second")).isEqualTo("2");
    }

    @Test
    void aGateSeesNoWayToChangeTheRequest() {
        // The view a gate gets returns values, never the request, its headers, or the context's mutators.
        for (Method m : RequestView.class.getMethods()) {
            assertThat(m.getReturnType()).as(m.getName())
                    .isNotIn(HttpRequest.class, HttpHeaders.class, RequestContext.class);
        }
        for (Method m : RequestGate.class.getMethods()) {
            if (m.getName().equals("decide")) {
                assertThat(m.getParameterTypes()).containsExactly(RequestView.class);
            }
        }
    }

    @Test
    void aSynchronousDecisionIsNoFutureAndIsActedOnAtOnce() {
        EmbeddedChannel ch = channel(walk(r -> GateDecision.deny(401, "credential_required", "missing")));

        ch.writeInbound(head());

        // No task was scheduled: the answer is there before the event loop runs anything else.
        assertThat(ch.hasPendingTasks()).isFalse();
        LocalAnswer a = ch.readInbound();
        assertThat(a.status()).isEqualTo(401);
    }
}
