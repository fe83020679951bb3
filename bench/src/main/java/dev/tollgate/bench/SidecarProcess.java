package dev.tollgate.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One sidecar as its own JVM: {@code [taskset -c <cpu>] java <opts> -cp <classpath> dev.tollgate.proxy.SidecarMain
 * --config <file>}, the class path being {@link #sidecarClasspath} of the bench's. Its listeners bind ephemeral
 * loopback ports, read back from its "sidecar listening" log line; it is started when {@code /readyz} answers 200.
 * CPU time and RSS are read from {@code /proc/<pid>}.
 */
final class SidecarProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("sidecar listening: (.*)$", Pattern.MULTILINE);
    private static final Pattern LISTENER = Pattern.compile("(ingress|egress|admin|l4) /?[^,:\\s]*:(\\d+)");

    final String name;
    final Path log;
    private final Process process;
    private final Map<String, Integer> ports;

    private SidecarProcess(String name, Path log, Process process, Map<String, Integer> ports) {
        this.name = name;
        this.log = log;
        this.process = process;
        this.ports = ports;
    }

    /**
     * The class path of a sidecar process started from a JVM with {@code classpath}: the proxy jar alone when its
     * manifest names its dependencies (Class-Path) and every one of them sits beside it, as in the launcher's
     * {@code lib/} and in {@code bench/target/lib/} — a sidecar then opens exactly the jars it opens under
     * {@code ./tollgate sidecar}, which also puts the unsigned copies of Bouncy Castle's jars in {@code sidecar-lib/}
     * beside {@code lib/} before it (build/unsigned-jars.xml), and so does this when that directory is there;
     * otherwise (the modules' classes directories, under the test runner) all of {@code classpath}.
     */
    static String sidecarClasspath(String classpath) {
        for (String entry : classpath.split(java.io.File.pathSeparator)) {
            Path jar = Path.of(entry);
            String name = jar.getFileName() == null ? "" : jar.getFileName().toString();
            if (!name.startsWith("tollgate-proxy-") || !name.endsWith(".jar") || name.contains("-tests")
                    || !Files.isRegularFile(jar)) {
                continue;
            }
            try (java.util.jar.JarFile f = new java.util.jar.JarFile(jar.toFile())) {
                java.util.jar.Manifest m = f.getManifest();
                String cp = m == null ? null : m.getMainAttributes().getValue(java.util.jar.Attributes.Name.CLASS_PATH);
                String[] deps = cp == null || cp.isBlank() ? new String[0] : cp.trim().split("\\s+");
                if (deps.length > 0 && java.util.Arrays.stream(deps)
                        .allMatch(dep -> Files.isRegularFile(jar.resolveSibling(dep)))) {
                    return unsignedCopiesBefore(jar, deps);
                }
            } catch (IOException e) {
                // not a readable jar: fall back to the whole class path
            }
        }
        return classpath;
    }

    /**
     * The copies in {@code ../sidecar-lib/} of the jars the proxy jar's Class-Path names ({@code deps}), in that order,
     * then {@code proxyJar}: what the launcher's tollgate-sidecar.jar names. Only copies of named jars, so a copy left
     * there by an earlier build of another version is never taken.
     */
    private static String unsignedCopiesBefore(Path proxyJar, String[] deps) {
        Path lib = proxyJar.toAbsolutePath().getParent();
        Path unsigned = lib == null ? null : lib.resolveSibling("sidecar-lib");
        List<String> entries = new ArrayList<>();
        if (unsigned != null) {
            for (String dep : deps) {
                Path copy = unsigned.resolve(dep);
                if (Files.isRegularFile(copy)) {
                    entries.add(copy.toString());
                }
            }
        }
        entries.add(proxyJar.toString());
        return String.join(java.io.File.pathSeparator, entries);
    }

    /**
     * The command that starts a sidecar, as run and as the summary shows it: under {@code env MALLOC_ARENA_MAX=}
     * the bench's own value or 2, as {@code ./tollgate sidecar} and the image's {@code tollgate.sh} start it (glibc's
     * malloc arenas are part of the resident set the bench reports).
     */
    static List<String> command(String classpath, List<String> jvmOptions, Integer cpu, Path config) {
        List<String> cmd = new ArrayList<>();
        String arenas = System.getenv("MALLOC_ARENA_MAX");
        cmd.addAll(List.of("env", "MALLOC_ARENA_MAX=" + (arenas == null || arenas.isBlank() ? "2" : arenas)));
        if (cpu != null) {
            cmd.addAll(List.of("taskset", "-c", String.valueOf(cpu)));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", classpath, "dev.tollgate.proxy.SidecarMain", "--config", config.toString()));
        return cmd;
    }

    static SidecarProcess start(String name, List<String> command, Path log, Duration timeout)
            throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, Integer> ports = null;
        while (ports == null) {
            if (!p.isAlive()) {
                throw new IOException(name + " sidecar exited with " + p.exitValue() + ": " + tail(log));
            }
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException(name + " sidecar did not start within " + timeout + ": " + tail(log));
            }
            Matcher m = LISTENING.matcher(Files.readString(log));
            if (m.find()) {
                ports = new HashMap<>();
                Matcher l = LISTENER.matcher(m.group(1));
                while (l.find()) {
                    ports.put(l.group(1), Integer.parseInt(l.group(2)));
                }
            } else {
                Thread.sleep(50);
            }
        }
        SidecarProcess s = new SidecarProcess(name, log, p, ports);
        s.awaitReady(deadline);
        return s;
    }

    private void awaitReady(long deadline) throws IOException, InterruptedException {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port("admin") + "/readyz"))
                .timeout(Duration.ofSeconds(2)).build();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> r = client.send(ready, HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
                last = r.statusCode() + " " + r.body();
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(50);
        }
        close();
        throw new IOException(name + " sidecar not ready: " + last);
    }

    int port(String listener) {
        Integer p = ports.get(listener);
        if (p == null) {
            throw new IllegalStateException(name + " sidecar has no " + listener + " listener");
        }
        return p;
    }

    InetSocketAddress address(String listener) {
        return new InetSocketAddress("127.0.0.1", port(listener));
    }

    long pid() {
        return process.pid();
    }

    /** User plus system CPU seconds this process has used so far ({@code /proc/<pid>/stat} utime + stime). */
    double cpuSeconds() throws IOException {
        return ProcStats.cpuSeconds(pid());
    }

    /** Resident set size in KiB ({@code VmRSS} of {@code /proc/<pid>/status}). */
    long rssKib() throws IOException {
        return ProcStats.rssKib(pid());
    }

    boolean alive() {
        return process.isAlive();
    }

    /** SIGTERM (the sidecar drains), then SIGKILL if it has not exited in 15 s. */
    @Override
    public void close() {
        Peer.stop(process);
    }

    private static String tail(Path log) {
        return Peer.tail(log);
    }
}
