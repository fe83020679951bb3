package dev.tollgate.proxy.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * Test support, not a product: an in-process stand-in for a Toxiproxy server, used when no real
 * {@code toxiproxy-server} is available (none is packaged in Debian or npm). It speaks the part of Toxiproxy's HTTP
 * API that {@code toxiproxy-java} calls ({@code GET /version}, {@code GET/POST /proxies}, {@code GET/POST/DELETE
 * /proxies/{name}}, {@code GET/POST /proxies/{name}/toxics}, {@code GET/POST/DELETE /proxies/{name}/toxics/{toxic}},
 * {@code POST /reset}) and forwards real TCP connections through the toxics the tests use, applied to live
 * connections as they change:
 * <ul>
 * <li>{@code latency} ({@code latency}, {@code jitter} ms): delays every chunk in its direction;</li>
 * <li>{@code bandwidth} ({@code rate} KB/s): paces data; rate 0 holds every byte (a blackhole) until removed;</li>
 * <li>{@code timeout} ({@code timeout} ms): stops all data; closes the connection after the timeout (never when
 * 0);</li>
 * <li>{@code reset_peer} ({@code timeout} ms): resets both sides (TCP RST) after the timeout;</li>
 * <li>{@code slow_close} ({@code delay} ms): delays the close that follows an end of stream in its direction.</li>
 * </ul>
 * Toxicity other than 1 is applied per connection with that probability. Everything runs on daemon threads and is
 * closed by {@link #close()}.
 */
public final class ToxiproxyStandIn implements AutoCloseable {
    static final String VERSION = "2.5.0-tollgate-stand-in";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer api;
    private final Map<String, ProxyState> proxies = new ConcurrentHashMap<>();
    private final ScheduledExecutorService monitor = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "toxiproxy-stand-in-monitor");
        t.setDaemon(true);
        return t;
    });

    public ToxiproxyStandIn() throws IOException {
        api = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        api.createContext("/", this::handle);
        api.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "toxiproxy-stand-in-api");
            t.setDaemon(true);
            return t;
        }));
        api.start();
        monitor.scheduleWithFixedDelay(this::enforceTimers, 20, 20, TimeUnit.MILLISECONDS);
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return api.getAddress().getPort();
    }

    /** Connections currently open through every proxy. */
    public int openConnections() {
        return proxies.values().stream().mapToInt(p -> p.connections.size()).sum();
    }

    @Override
    public void close() {
        api.stop(0);
        monitor.shutdownNow();
        proxies.values().forEach(ProxyState::stop);
        proxies.clear();
    }

    // ---- HTTP API ------------------------------------------------------------------------------------------------

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            String[] parts = ex.getRequestURI().getPath().replaceAll("^/+|/+$", "").split("/");
            JsonNode body = null;
            byte[] raw = ex.getRequestBody().readAllBytes();
            if (raw.length > 0) {
                body = JSON.readTree(raw);
            }
            Object result;
            try {
                result = route(method, parts, body);
            } catch (ApiError e) {
                send(ex, e.status, JSON.createObjectNode().put("error", e.getMessage()).put("status", e.status));
                return;
            }
            if (result == null) {
                ex.sendResponseHeaders(204, -1);
            } else if (result instanceof String s) {
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(200, b.length);
                ex.getResponseBody().write(b);
            } else {
                send(ex, "POST".equals(method) && parts.length == 1 && "proxies".equals(parts[0]) ? 201 : 200,
                        (JsonNode) result);
            }
        }
    }

    private static void send(HttpExchange ex, int status, JsonNode n) throws IOException {
        byte[] b = JSON.writeValueAsBytes(n);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    private Object route(String method, String[] p, JsonNode body) throws IOException {
        if (p.length == 1 && p[0].equals("version") && method.equals("GET")) {
            return VERSION;
        }
        if (p.length == 1 && p[0].equals("reset") && method.equals("POST")) {
            for (ProxyState s : proxies.values()) {
                s.toxics.clear();
                s.setEnabled(true);
            }
            return null;
        }
        if (p.length >= 1 && p[0].equals("proxies")) {
            if (p.length == 1 && method.equals("GET")) {
                ObjectNode all = JSON.createObjectNode();
                proxies.forEach((k, v) -> all.set(k, v.json()));
                return all;
            }
            if (p.length == 1 && method.equals("POST")) {
                String name = body.path("name").asText();
                if (proxies.containsKey(name)) {
                    throw new ApiError(409, "proxy already exists");
                }
                ProxyState s = new ProxyState(name, body.path("listen").asText(), body.path("upstream").asText());
                s.setEnabled(!body.has("enabled") || body.get("enabled").asBoolean());
                proxies.put(name, s);
                return s.json();
            }
            ProxyState s = proxies.get(p[1]);
            if (s == null) {
                throw new ApiError(404, "proxy not found");
            }
            if (p.length == 2) {
                switch (method) {
                    case "GET":
                        return s.json();
                    case "POST":
                        if (body.has("upstream")) {
                            s.upstream = body.get("upstream").asText();
                        }
                        if (body.has("enabled")) {
                            s.setEnabled(body.get("enabled").asBoolean());
                        }
                        return s.json();
                    case "DELETE":
                        proxies.remove(p[1]);
                        s.stop();
                        return null;
                    default:
                        throw new ApiError(405, "method not allowed");
                }
            }
            if (p.length == 3 && p[2].equals("toxics")) {
                if (method.equals("GET")) {
                    ArrayNode a = JSON.createArrayNode();
                    s.toxics.values().forEach(t -> a.add(t.json()));
                    return a;
                }
                if (method.equals("POST")) {
                    Toxic t = Toxic.from(body);
                    if (s.toxics.putIfAbsent(t.name, t) != null) {
                        throw new ApiError(409, "toxic already exists");
                    }
                    return t.json();
                }
            }
            if (p.length == 4 && p[2].equals("toxics")) {
                Toxic t = s.toxics.get(p[3]);
                if (t == null) {
                    throw new ApiError(404, "toxic not found");
                }
                switch (method) {
                    case "GET":
                        return t.json();
                    case "POST":
                        JsonNode attrs = body.has("attributes") ? body.get("attributes") : body;
                        attrs.fields().forEachRemaining(e -> t.attributes.put(e.getKey(), e.getValue().asLong()));
                        if (body.has("toxicity")) {
                            t.toxicity = body.get("toxicity").asDouble();
                        }
                        return t.json();
                    case "DELETE":
                        s.toxics.remove(p[3]);
                        return null;
                    default:
                        throw new ApiError(405, "method not allowed");
                }
            }
        }
        throw new ApiError(404, "not found");
    }

    private static final class ApiError extends RuntimeException {
        final int status;

        ApiError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private void enforceTimers() {
        long now = System.nanoTime();
        for (ProxyState s : proxies.values()) {
            for (Toxic t : s.toxics.values()) {
                if (!t.type.equals("timeout") && !t.type.equals("reset_peer")) {
                    continue;
                }
                long after = t.attributes.getOrDefault("timeout", 0L);
                if (t.type.equals("timeout") && after == 0) {
                    continue;
                }
                for (Connection c : s.connections) {
                    if (!c.affectedBy(t)) {
                        continue;
                    }
                    long since = Math.max(t.createdNanos, c.openedNanos);
                    if (now - since >= TimeUnit.MILLISECONDS.toNanos(after)) {
                        c.close(t.type.equals("reset_peer"));
                    }
                }
            }
        }
    }

    // ---- proxies -------------------------------------------------------------------------------------------------

    static final class Toxic {
        final String name;
        final String type;
        final String stream;
        volatile double toxicity;
        final Map<String, Long> attributes = new ConcurrentHashMap<>();
        final long createdNanos = System.nanoTime();

        private Toxic(String name, String type, String stream, double toxicity) {
            this.name = name;
            this.type = type;
            this.stream = stream;
            this.toxicity = toxicity;
        }

        static Toxic from(JsonNode b) {
            String type = b.path("type").asText();
            if (!Set.of("latency", "bandwidth", "timeout", "reset_peer", "slow_close").contains(type)) {
                throw new ApiError(400, "toxic type not supported by the stand-in: " + type);
            }
            String stream = b.path("stream").asText("downstream");
            String name = b.path("name").asText(type + "_" + stream);
            Toxic t = new Toxic(name, type, stream, b.has("toxicity") ? b.get("toxicity").asDouble() : 1.0);
            b.path("attributes").fields().forEachRemaining(e -> t.attributes.put(e.getKey(), e.getValue().asLong()));
            return t;
        }

        ObjectNode json() {
            ObjectNode n = JSON.createObjectNode().put("name", name).put("type", type).put("stream", stream)
                    .put("toxicity", toxicity);
            ObjectNode a = n.putObject("attributes");
            attributes.forEach(a::put);
            return n;
        }
    }

    private final class ProxyState {
        final String name;
        final String listenSpec;
        volatile String upstream;
        final Map<String, Toxic> toxics = new ConcurrentHashMap<>();
        final Set<Connection> connections = ConcurrentHashMap.newKeySet();
        private volatile ServerSocket server;
        private volatile String listen;
        private volatile boolean enabled;

        ProxyState(String name, String listen, String upstream) {
            this.name = name;
            this.listenSpec = listen;
            this.listen = listen;
            this.upstream = upstream;
        }

        synchronized void setEnabled(boolean on) throws IOException {
            if (on == enabled) {
                return;
            }
            enabled = on;
            if (on) {
                int colon = listenSpec.lastIndexOf(':');
                ServerSocket ss = new ServerSocket();
                ss.setReuseAddress(true);
                ss.bind(new InetSocketAddress(listenSpec.substring(0, colon),
                        Integer.parseInt(listenSpec.substring(colon + 1))));
                server = ss;
                listen = listenSpec.substring(0, colon) + ":" + ss.getLocalPort();
                Thread t = new Thread(() -> accept(ss), "toxiproxy-stand-in-accept-" + name);
                t.setDaemon(true);
                t.start();
            } else {
                stop();
            }
        }

        void stop() {
            enabled = false;
            ServerSocket ss = server;
            if (ss != null) {
                try {
                    ss.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
            connections.forEach(c -> c.close(false));
        }

        private void accept(ServerSocket ss) {
            while (!ss.isClosed()) {
                try {
                    Socket client = ss.accept();
                    int colon = upstream.lastIndexOf(':');
                    Socket up;
                    try {
                        up = new Socket();
                        up.connect(new InetSocketAddress(upstream.substring(0, colon),
                                Integer.parseInt(upstream.substring(colon + 1))), 5000);
                    } catch (IOException e) {
                        client.close();
                        continue;
                    }
                    Connection c = new Connection(this, client, up);
                    connections.add(c);
                    if (c.resetAtOnce()) {
                        continue;
                    }
                    c.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        List<Toxic> toxics(String stream) {
            List<Toxic> out = new ArrayList<>();
            for (Toxic t : toxics.values()) {
                if (t.stream.equals(stream)) {
                    out.add(t);
                }
            }
            return out;
        }

        ObjectNode json() {
            ObjectNode n = JSON.createObjectNode().put("name", name).put("listen", listen).put("upstream", upstream)
                    .put("enabled", enabled);
            ArrayNode a = n.putArray("toxics");
            toxics.values().forEach(t -> a.add(t.json()));
            return n;
        }
    }

    private static final class Connection {
        final ProxyState proxy;
        final Socket client;
        final Socket upstream;
        final long openedNanos = System.nanoTime();
        /** Per connection: whether each toxic applies, drawn once with the toxic's toxicity. */
        final Map<String, Boolean> draws = new ConcurrentHashMap<>();
        private volatile boolean closed;

        Connection(ProxyState proxy, Socket client, Socket upstream) {
            this.proxy = proxy;
            this.client = client;
            this.upstream = upstream;
        }

        void start() {
            pump(client, upstream, "upstream");
            pump(upstream, client, "downstream");
        }

        /** A reset_peer toxic with timeout 0 resets a new connection before any byte passes. */
        boolean resetAtOnce() {
            for (Toxic t : proxy.toxics.values()) {
                if (t.type.equals("reset_peer") && t.attributes.getOrDefault("timeout", 0L) == 0 && affectedBy(t)) {
                    close(true);
                    return true;
                }
            }
            return false;
        }

        boolean affectedBy(Toxic t) {
            return draws.computeIfAbsent(t.name + "@" + t.createdNanos,
                    k -> t.toxicity >= 1.0 || ThreadLocalRandom.current().nextDouble() < t.toxicity);
        }

        private void pump(Socket from, Socket to, String stream) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[16 * 1024];
                try {
                    InputStream in = from.getInputStream();
                    OutputStream out = to.getOutputStream();
                    int n;
                    while ((n = in.read(buf)) != -1) {
                        forward(buf, n, out, stream);
                    }
                    for (Toxic x : proxy.toxics(stream)) {
                        if (x.type.equals("slow_close") && affectedBy(x)) {
                            Thread.sleep(x.attributes.getOrDefault("delay", 0L));
                        }
                    }
                } catch (IOException | InterruptedException e) {
                    // the connection ends
                }
                close(false);
            }, "toxiproxy-stand-in-" + proxy.name + "-" + stream);
            t.setDaemon(true);
            t.start();
        }

        private void forward(byte[] buf, int n, OutputStream out, String stream)
                throws IOException, InterruptedException {
            while (!closed) {
                boolean held = false;
                long delay = 0;
                long rate = -1;
                for (Toxic x : proxy.toxics(stream)) {
                    if (!affectedBy(x)) {
                        continue;
                    }
                    switch (x.type) {
                        case "timeout" -> held = true;
                        case "reset_peer" -> {
                            long after = TimeUnit.MILLISECONDS.toNanos(x.attributes.getOrDefault("timeout", 0L));
                            if (System.nanoTime() - Math.max(x.createdNanos, openedNanos) >= after) {
                                close(true);
                                throw new SocketException("reset by the reset_peer toxic");
                            }
                        }
                        case "bandwidth" -> {
                            rate = x.attributes.getOrDefault("rate", 0L);
                            held |= rate == 0;
                        }
                        case "latency" -> {
                            long jitter = x.attributes.getOrDefault("jitter", 0L);
                            delay += x.attributes.getOrDefault("latency", 0L)
                                    + (jitter > 0 ? ThreadLocalRandom.current().nextLong(-jitter, jitter + 1) : 0);
                        }
                        default -> { }
                    }
                }
                if (held) {
                    Thread.sleep(20);
                    continue;
                }
                if (delay > 0) {
                    Thread.sleep(delay);
                }
                if (rate > 0) {
                    Thread.sleep(n / rate);
                }
                out.write(buf, 0, n);
                out.flush();
                return;
            }
            throw new SocketException("closed");
        }

        void close(boolean reset) {
            if (closed) {
                return;
            }
            closed = true;
            for (Socket s : new Socket[] {client, upstream}) {
                try {
                    if (reset) {
                        s.setSoLinger(true, 0);
                    }
                    s.close();
                } catch (IOException ignored) {
                    // already gone
                }
            }
            proxy.connections.remove(this);
        }
    }
}
