package dev.tollgate.bench.load;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import io.netty.handler.ssl.SslContext;

/**
 * One load run.
 *
 * @param target         where to connect; must be a loopback address
 * @param host           the Host header sent
 * @param path           the request target
 * @param schedule       open (constant rate) or closed (saturation)
 * @param rate           requests per second for {@link Schedule#OPEN}; ignored for closed
 * @param duration       how long requests are issued
 * @param connections    keep-alive connections, or concurrent connections in new-connection mode, or closed-loop slots
 * @param newConnectionPerRequest a fresh connection (and TLS handshake) for every request, closed after it
 * @param tls            a client TLS context, or empty for plain HTTP
 * @param grace          how long after the last due time outstanding requests may still complete
 * @param headers        extra request headers (name → value), e.g. a credential
 * @param body           empty: every request is a GET; otherwise every request is a POST of these bytes (UTF-8) with
 *                       {@code Content-Type: application/json}, at most {@link #MAX_BODY} bytes
 */
public record LoadSpec(InetSocketAddress target, String host, String path, Schedule schedule, double rate,
                       Duration duration, int connections, boolean newConnectionPerRequest, Optional<SslContext> tls,
                       Duration grace, Map<String, String> headers, Optional<byte[]> body) {
    /** At most this many requests in one open-loop run. */
    public static final long MAX_REQUESTS = 10_000_000L;
    /** No run issues requests for longer than this. */
    public static final Duration MAX_DURATION = Duration.ofMinutes(30);
    /** The largest request body a run sends. */
    public static final int MAX_BODY = 64 * 1024;

    public LoadSpec {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(schedule, "schedule");
        Objects.requireNonNull(tls, "tls");
        headers = Map.copyOf(headers);
        Objects.requireNonNull(body, "body");
        body = body.map(byte[]::clone);
        if (body.isPresent() && body.get().length > MAX_BODY) {
            throw new IllegalArgumentException("body: " + body.get().length + " bytes (expected: at most " + MAX_BODY + ")");
        }
        if (headers.size() > 32) {
            throw new IllegalArgumentException("headers: " + headers.size() + " (expected: at most 32)");
        }
        if (target.isUnresolved() || !target.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("target: " + target + " (expected: a loopback address)");
        }
        if (duration.isNegative() || duration.isZero() || duration.compareTo(MAX_DURATION) > 0) {
            throw new IllegalArgumentException("duration: " + duration + " (expected: > 0 and <= " + MAX_DURATION + ")");
        }
        if (grace.isNegative() || grace.compareTo(Duration.ofMinutes(1)) > 0) {
            throw new IllegalArgumentException("grace: " + grace + " (expected: >= 0 and <= 1m)");
        }
        if (connections < 1 || connections > 10_000) {
            throw new IllegalArgumentException("connections: " + connections + " (expected: 1..10000)");
        }
        if (schedule == Schedule.OPEN) {
            if (!(rate > 0)) {
                throw new IllegalArgumentException("rate: " + rate + " (expected: > 0)");
            }
            if (rate * duration.toNanos() / 1e9 > MAX_REQUESTS) {
                throw new IllegalArgumentException("rate x duration: " + (long) (rate * duration.toNanos() / 1e9)
                        + " requests (expected: <= " + MAX_REQUESTS + ")");
            }
        }
    }

    /** Requests an open-loop run issues. */
    public long requestCount() {
        return (long) Math.floor(rate * duration.toNanos() / 1e9);
    }

    public static LoadSpec open(InetSocketAddress target, String host, double rate, Duration duration, int connections) {
        return new LoadSpec(target, host, "/bench", Schedule.OPEN, rate, duration, connections, false,
                Optional.empty(), Duration.ofSeconds(5), Map.of(), Optional.empty());
    }

    public static LoadSpec closed(InetSocketAddress target, String host, Duration duration, int connections) {
        return new LoadSpec(target, host, "/bench", Schedule.CLOSED, 0, duration, connections, false,
                Optional.empty(), Duration.ofSeconds(5), Map.of(), Optional.empty());
    }

    public LoadSpec withNewConnectionPerRequest(SslContext clientTls) {
        return new LoadSpec(target, host, path, schedule, rate, duration, connections, true,
                Optional.ofNullable(clientTls), grace, headers, body);
    }

    /** The same load with one more request header. */
    public LoadSpec withHeader(String name, String value) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
        return new LoadSpec(target, host, path, schedule, rate, duration, connections, newConnectionPerRequest, tls,
                grace, h, body);
    }

    /** The same load as POSTs of a JSON body (e.g. an MCP {@code tools/call}) to the given request target. */
    public LoadSpec withJsonPost(String newPath, String json) {
        return new LoadSpec(target, host, newPath, schedule, rate, duration, connections, newConnectionPerRequest, tls,
                grace, headers, Optional.of(json.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** The same load as GETs (no body). */
    public LoadSpec withoutBody() {
        return new LoadSpec(target, host, path, schedule, rate, duration, connections, newConnectionPerRequest, tls,
                grace, headers, Optional.empty());
    }

    /** The same load on another request target (e.g. a path the upstream answers with a larger body). */
    public LoadSpec withPath(String newPath) {
        return new LoadSpec(target, host, newPath, schedule, rate, duration, connections, newConnectionPerRequest, tls,
                grace, headers, body);
    }
}
