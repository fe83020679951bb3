package dev.tollgate.proxy.governance;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

import io.netty.handler.codec.http.HttpHeaderNames;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.wire.UpstreamSecretValue;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.request.HeaderEdit;

/**
 * Credential injection for legacy upstreams ({@code upstreams.*.inject}): holds the configured upstream secrets'
 * values in memory only (never logged; {@link UpstreamSecretValue#toString} redacts) and says, for a request to an
 * upstream, which header edits put the credential on it ({@link #editsFor}). A value is used only while the
 * {@code inject-credential} exception it is bound to is active for this workload and upstream; when that exception
 * ends (revoked, expired, unknown) the value is dropped and the request refused (fail closed).
 */
public final class Injection {
    private static final Logger LOG = LoggerFactory.getLogger(Injection.class);

    private final Map<String, SidecarConfig.Upstream> byUpstream = new LinkedHashMap<>();
    private final Map<String, SidecarConfig.Upstream> bySecret = new LinkedHashMap<>();
    private final ExceptionBook book;
    /** The values held, by secret name, each with the edits that inject it (built once, in {@link #put}). */
    private final Map<String, Held> values = new ConcurrentHashMap<>();

    private record Held(UpstreamSecretValue value, Outcome.Edits edits) {
    }

    public Injection(SidecarConfig config, ExceptionBook book) {
        this.book = Objects.requireNonNull(book, "book");
        for (SidecarConfig.Upstream u : config.upstreams().values()) {
            u.inject().ifPresent(i -> {
                byUpstream.put(u.name(), u);
                bySecret.put(i.secret(), u);
            });
        }
    }

    /** What to do with a request to an upstream. */
    public sealed interface Outcome permits Outcome.NotConfigured, Outcome.Edits, Outcome.Refused {
        NotConfigured NOT_CONFIGURED = new NotConfigured();

        /** The upstream takes no injected credential: nothing to do. */
        final class NotConfigured implements Outcome {
            private NotConfigured() {
            }
        }

        /**
         * The header edits as the forwarder applies them: remove every value of the agent's credential headers for
         * the upstream, then set the injected one ({@link HeaderEdit#toString} never prints the value).
         *
         * @param secret    the upstream secret's name (the decision's {@code injected})
         * @param exception the {@code inject-credential} exception that allows it
         */
        record Edits(List<HeaderEdit> edits, String secret, String exception) implements Outcome {
            public Edits {
                edits = List.copyOf(edits);
            }
        }

        /** The upstream takes an injected credential and none can be injected now; {@code message} says why. */
        record Refused(String message) implements Outcome {
        }
    }

    /** The configured secrets' names. */
    public Set<String> secretNames() {
        return new TreeSet<>(bySecret.keySet());
    }

    public boolean configured() {
        return !bySecret.isEmpty();
    }

    /** Whether a value of this secret is held now. */
    public boolean holds(String secret) {
        return values.containsKey(secret);
    }

    /** The version held of a secret, if any. */
    public Optional<Integer> versionOf(String secret) {
        Held h = values.get(secret);
        return h == null ? Optional.empty() : Optional.of(h.value().version());
    }

    /**
     * Takes a fetched value. Refused (false, nothing changes) when the secret is not configured here, or is bound to
     * another upstream than the one configured for it.
     */
    public boolean put(UpstreamSecretValue v) {
        SidecarConfig.Upstream u = v == null ? null : bySecret.get(v.name());
        if (u == null || v.value() == null || v.value().isEmpty()) {
            return false;
        }
        if (v.upstream() == null || !v.upstream().equalsIgnoreCase(u.address().toString())) {
            LOG.warn("upstream secret {} is bound to upstream {}, not to {} ({}): not used", v.name(), v.upstream(),
                    u.name(), u.address());
            return false;
        }
        values.put(v.name(), new Held(v, edits(u.inject().orElseThrow(), v)));
        return true;
    }

    /** The edits that inject a value as its upstream's {@code inject} says. */
    private static Outcome.Edits edits(SidecarConfig.Inject spec, UpstreamSecretValue v) {
        String header;
        String value;
        if (spec.as() == SidecarConfig.InjectAs.BASIC) {
            header = HttpHeaderNames.AUTHORIZATION.toString();
            value = "Basic " + Base64.getEncoder().encodeToString((spec.username().orElseThrow() + ":" + v.value())
                    .getBytes(StandardCharsets.UTF_8));
        } else {
            header = spec.header();
            value = spec.prefix() + v.value();
        }
        List<HeaderEdit> edits = new ArrayList<>(4);
        for (String name : new LinkedHashSet<>(List.of(HttpHeaderNames.AUTHORIZATION.toString(), header,
                TokenClaims.HEADER))) {
            edits.add(HeaderEdit.remove(name));
        }
        edits.add(HeaderEdit.set(header, value));
        return new Outcome.Edits(edits, spec.secret(), v.exceptionId());
    }

    /** Forgets a secret's value (deleted, or its exception ended). */
    public void drop(String secret) {
        if (values.remove(secret) != null) {
            LOG.info("upstream secret {} dropped from memory", secret);
        }
    }

    /** Forgets every value whose exception is no longer active: called after every change of the exception book. */
    public void exceptionsChanged(Instant now) {
        for (Held h : values.values()) {
            UpstreamSecretValue v = h.value();
            if (!(book.injectionGrant(v.exceptionId(), v.upstream(), now) instanceof ExceptionBook.Waiver.Active)) {
                drop(v.name());
            }
        }
    }

    /**
     * The header edits that inject the credential of this upstream (egress, after every other gate allowed), or why
     * none can be injected, or {@link Outcome#NOT_CONFIGURED}.
     */
    public Outcome editsFor(SidecarConfig.Upstream upstream, Instant now) {
        SidecarConfig.Upstream u = upstream == null ? null : byUpstream.get(upstream.name());
        if (u == null) {
            return Outcome.NOT_CONFIGURED;
        }
        SidecarConfig.Inject spec = u.inject().orElseThrow();
        Held held = values.get(spec.secret());
        if (held == null) {
            return new Outcome.Refused("upstream secret " + spec.secret() + " is not held (not fetched from the "
                    + "control plane yet, or refused: its inject-credential exception must be active)");
        }
        UpstreamSecretValue v = held.value();
        ExceptionBook.Waiver w = book.injectionGrant(v.exceptionId(), u.address().toString(), now);
        if (!(w instanceof ExceptionBook.Waiver.Active)) {
            drop(spec.secret());
            String state = w instanceof ExceptionBook.Waiver.Expired ? "expired"
                    : book.grant(v.exceptionId()).map(g -> g.state()).orElse("unknown");
            return new Outcome.Refused("exception " + v.exceptionId() + " (inject-credential for " + u.address()
                    + ") is " + state + ": upstream secret " + spec.secret() + " is not injected");
        }
        return held.edits();
    }
}
