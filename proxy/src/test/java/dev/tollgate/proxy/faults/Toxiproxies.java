package dev.tollgate.proxy.faults;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import eu.rekawek.toxiproxy.ToxiproxyClient;

/**
 * Where the fault-injection tests get a Toxiproxy server: the one at {@code TOXIPROXY_URL}, else a
 * {@code toxiproxy-server} binary found on PATH (started on a free port), else the in-process
 * {@link ToxiproxyStandIn}. Proxies must listen on this host, since the tests connect to them on 127.0.0.1.
 */
public final class Toxiproxies implements AutoCloseable {
    public final ToxiproxyClient client;
    /** What answers: "TOXIPROXY_URL", "toxiproxy-server" or "stand-in". */
    public final String kind;
    private final AutoCloseable owned;
    private final ToxiproxyStandIn standIn;

    private Toxiproxies(ToxiproxyClient client, String kind, AutoCloseable owned, ToxiproxyStandIn standIn) {
        this.client = client;
        this.kind = kind;
        this.owned = owned;
        this.standIn = standIn;
    }

    public static Toxiproxies start() throws IOException, InterruptedException {
        String url = System.getenv("TOXIPROXY_URL");
        if (url != null && !url.isBlank()) {
            URI u = URI.create(url);
            return new Toxiproxies(new ToxiproxyClient(u.getHost(), u.getPort()), "TOXIPROXY_URL", () -> { }, null);
        }
        Optional<Path> binary = onPath("toxiproxy-server");
        if (binary.isPresent()) {
            int port = freePort();
            Process p = new ProcessBuilder(binary.get().toString(), "-host", "127.0.0.1", "-port",
                    String.valueOf(port)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            ToxiproxyClient c = new ToxiproxyClient("127.0.0.1", port);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (true) {
                try {
                    c.version();
                    break;
                } catch (IOException e) {
                    if (System.nanoTime() > deadline || !p.isAlive()) {
                        p.destroyForcibly();
                        throw new IOException("toxiproxy-server did not start on port " + port, e);
                    }
                    Thread.sleep(100);
                }
            }
            return new Toxiproxies(c, "toxiproxy-server", p::destroyForcibly, null);
        }
        ToxiproxyStandIn s = new ToxiproxyStandIn();
        return new Toxiproxies(new ToxiproxyClient(s.host(), s.port()), "stand-in", s, s);
    }

    /** Connections open through the stand-in's proxies; empty with a real server. */
    public Optional<Integer> openConnections() {
        return standIn == null ? Optional.empty() : Optional.of(standIn.openConnections());
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static Optional<Path> onPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    @Override
    public void close() throws Exception {
        try {
            client.reset();
        } catch (IOException ignored) {
            // the server may be gone already
        }
        owned.close();
    }
}
