package dev.tollgate.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One way from the agent to the tool that {@link PeersBench} compares: direct, or a pair of proxies (agent side:
 * plain HTTP/1.1 in, mTLS out; tool side: mTLS in with a client certificate required, plain HTTP/1.1 to the tool).
 * A peer made of processes is started by {@link #start()}, which returns once the first request through it was
 * answered 200: the time that took is its cold start.
 */
abstract class Peer implements AutoCloseable {
    static final String TOOL_HOST = DataPathBench.TOOL_HOST;
    /** Where every peer's agent side is sent the benchmark's call. */
    static final String CALL_PATH = "/mcp";
    /**
     * The benchmark's request, the same for every peer: an MCP {@code tools/call} of the tool in the task's scope.
     * The id is fixed (every request is the same bytes, also for wrk and h2load); the tool answers with it.
     */
    static final String CALL = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\""
            + BenchControlPlane.TOOL_NAME + "\",\"arguments\":{\"id\":\"c-42\"}}}";

    final String name;
    /** Processes of this peer as started (agent side first); empty for direct. */
    protected final List<Proc> procs = new ArrayList<>();
    private double coldStartMillis = Double.NaN;
    private String firstAnswer = "";

    Peer(String name) {
        this.name = name;
    }

    /** Where the load generator sends plain HTTP/1.1 (the agent side). */
    abstract InetSocketAddress egress();

    /** The tool side's mTLS listener, for handshakes; empty for direct. */
    Optional<InetSocketAddress> ingress() {
        return Optional.empty();
    }

    /** Where the agent side takes HTTP/2 with prior knowledge (h2c), if it does. */
    Optional<InetSocketAddress> h2cEgress() {
        return Optional.empty();
    }

    /** Headers every request through this peer carries (a task credential). */
    Map<String, String> headers() {
        return Map.of();
    }

    /** One sentence on the path, for the summary. */
    abstract String path();

    /** Version of the proxy software. */
    abstract String version();

    /** Starts the processes (if any) and waits until a request through this peer is answered 200. */
    abstract void start() throws IOException, InterruptedException;

    /** Stops the processes (if any). */
    @Override
    public void close() {
        for (int i = procs.size() - 1; i >= 0; i--) {
            procs.get(i).close();
        }
        procs.clear();
    }

    /** Milliseconds from starting the first process to the first 200 through the peer, of the latest start. */
    double coldStartMillis() {
        return coldStartMillis;
    }

    List<Proc> procs() {
        return List.copyOf(procs);
    }

    boolean alive() {
        return procs.stream().allMatch(Proc::alive);
    }

    /** CPU seconds of all this peer's processes (and their children) so far. */
    double cpuSeconds() throws IOException {
        double s = 0;
        for (Proc p : procs) {
            s += ProcStats.cpuSeconds(p.pid());
        }
        return s;
    }

    /** RSS in KiB of all this peer's processes (and their children) now. */
    long rssKib() throws IOException {
        long k = 0;
        for (Proc p : procs) {
            k += ProcStats.rssKib(p.pid());
        }
        return k;
    }

    /** Waits for the first 200 through {@link #egress()}, from {@code startedNanos}; records the cold start. */
    protected void awaitFirstAnswer(long startedNanos, Duration timeout) throws IOException, InterruptedException {
        long deadline = startedNanos + timeout.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            for (Proc p : procs) {
                if (!p.alive()) {
                    throw new IOException(name + ": " + p.label + " exited: " + p.tail());
                }
            }
            try {
                Answer a = probe(egress(), headers());
                if (a.status() == 200) {
                    coldStartMillis = (System.nanoTime() - startedNanos) / 1e6;
                    firstAnswer = a.body();
                    return;
                }
                last = "HTTP " + a.status() + " " + a.body();
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(5);
        }
        StringBuilder logs = new StringBuilder();
        for (Proc p : procs) {
            logs.append("\n--- ").append(p.label).append(":\n").append(p.tail());
        }
        throw new IOException(name + " did not answer 200 within " + timeout + " (last: " + last + ")" + logs);
    }

    /** The body of the first 200 of the latest start (the tool's answer to {@link #CALL}). */
    String firstAnswer() {
        return firstAnswer;
    }

    /** A status code and body. */
    record Answer(int status, String body) {
    }

    /**
     * One {@link #CALL} POSTed to {@link #CALL_PATH} with {@code Connection: close}; the status code and body of the
     * answer (at most 64 KiB read).
     */
    static Answer probe(InetSocketAddress target, Map<String, String> headers) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(target, 1000);
            s.setSoTimeout(5000);
            byte[] body = CALL.getBytes(StandardCharsets.UTF_8);
            StringBuilder req = new StringBuilder("POST " + CALL_PATH + " HTTP/1.1\r\nHost: " + TOOL_HOST
                    + "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                    + "\r\n");
            headers.forEach((k, v) -> req.append(k).append(": ").append(v).append("\r\n"));
            OutputStream out = s.getOutputStream();
            out.write(req.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            byte[] answer = in.readNBytes(64 * 1024);
            String text = new String(answer, StandardCharsets.UTF_8);
            if (!text.startsWith("HTTP/1.") || text.length() < 12) {
                throw new IOException("not an HTTP answer: " + text.substring(0, Math.min(40, text.length())));
            }
            int split = text.indexOf("\r\n\r\n");
            return new Answer(Integer.parseInt(text.substring(9, 12)), split < 0 ? "" : text.substring(split + 4));
        }
    }

    /** A free loopback port (bound and released; the process that uses it binds it right after). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    /** {@code [taskset -c cpu] <command>}. */
    static List<String> pinned(Integer cpu, List<String> command) {
        List<String> cmd = new ArrayList<>();
        if (cpu != null) {
            cmd.addAll(List.of("taskset", "-c", String.valueOf(cpu)));
        }
        cmd.addAll(command);
        return cmd;
    }

    /** The first line a program prints for its version flag, or "absent". */
    static String versionOf(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            p.waitFor(10, TimeUnit.SECONDS);
            return out.lines().findFirst().orElse("(no output)");
        } catch (IOException e) {
            return "absent";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    /** The last 20 lines of a log file. */
    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** SIGTERM, then SIGKILL if the process has not exited in 15 s. */
    static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Whether a program is on the PATH. */
    static boolean onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    /** One child process of a peer, its output in a log file. */
    static final class Proc implements AutoCloseable {
        final String label;
        final List<String> command;
        final Path log;
        private final Process process;

        Proc(String label, List<String> command, Path log) throws IOException {
            this.label = label;
            this.command = List.copyOf(command);
            this.log = log;
            this.process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        }

        long pid() {
            return process.pid();
        }

        boolean alive() {
            return process.isAlive();
        }

        String tail() {
            return Peer.tail(log);
        }

        @Override
        public void close() {
            stop(process);
        }
    }

    /** Two proxy processes on free loopback ports: the agent side (egress) and the tool side (mTLS ingress). */
    abstract static class Pair extends Peer {
        protected final PeerEnv env;
        protected int egressPort;
        protected int ingressPort;
        protected int h2cPort;

        Pair(String name, PeerEnv env) {
            super(name);
            this.env = env;
        }

        @Override
        InetSocketAddress egress() {
            return new InetSocketAddress("127.0.0.1", egressPort);
        }

        @Override
        Optional<InetSocketAddress> ingress() {
            return Optional.of(new InetSocketAddress("127.0.0.1", ingressPort));
        }

        @Override
        Optional<InetSocketAddress> h2cEgress() {
            return Optional.of(new InetSocketAddress("127.0.0.1", h2cPort));
        }

        /** New free ports for both sides (before every start); h2c on its own port unless the egress port detects it. */
        protected void choosePorts() throws IOException {
            egressPort = freePort();
            ingressPort = freePort();
            h2cPort = freePort();
        }
    }

    /** No proxy: the generator talks to the tool. */
    static final class Direct extends Peer {
        private final InetSocketAddress upstream;

        Direct(InetSocketAddress upstream) {
            super("direct");
            this.upstream = upstream;
        }

        @Override
        InetSocketAddress egress() {
            return upstream;
        }

        @Override
        String path() {
            return "load generator → tool (plain HTTP/1.1), no proxy";
        }

        @Override
        String version() {
            return "–";
        }

        @Override
        void start() throws IOException, InterruptedException {
            awaitFirstAnswer(System.nanoTime(), Duration.ofSeconds(10));
        }
    }
}
