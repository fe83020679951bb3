package dev.tollgate.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import com.sun.tools.attach.AgentLoadException;
import com.sun.tools.attach.AgentInitializationException;
import com.sun.tools.attach.AttachNotSupportedException;
import com.sun.tools.attach.VirtualMachine;

/**
 * async-profiler attached to running sidecar JVMs for the measured part of a scenario only (not their start-up and
 * warm-up): {@link #start} loads the agent library that the {@code tools.profiler:async-profiler} jar carries into
 * each process over the JDK attach API, {@link #stop} writes one flame graph per process and ends the profile. The
 * HTML flame graph is self-contained; a {@code .top.txt} beside it lists the frames with the most samples (self and
 * total, and Tollgate's own frames), to read and diff between runs without a browser.
 */
final class Profiler {
    /** What is sampled. */
    enum Event {
        /** On-CPU time: {@code event=cpu} (perf events; async-profiler falls back to itimer where they are closed). */
        CPU("event=cpu,interval=1ms"),
        /** Heap allocation: {@code event=alloc}, one sample per 64 KiB allocated per thread. */
        ALLOC("event=alloc,alloc=64k");

        final String options;

        Event(String options) {
            this.options = options;
        }

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Event parse(String s) {
            for (Event e : values()) {
                if (e.label().equals(s)) {
                    return e;
                }
            }
            throw new IllegalArgumentException("profile: " + s + " (expected: cpu or alloc)");
        }
    }

    /** One profiled process. */
    record Target(String label, long pid) {
    }

    private final Path library;
    private final Event event;
    private final List<Target> running = new ArrayList<>();

    private Profiler(Path library, Event event) {
        this.library = library;
        this.event = event;
    }

    /** Extracts the linux-x64 agent library from the classpath into {@code dir}. */
    static Profiler create(Event event, Path dir) throws IOException {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new IOException("profile: async-profiler's library is used on linux x86-64 only (this is " + os + " "
                    + arch + ")");
        }
        Path lib = dir.resolve("libasyncProfiler.so");
        try (InputStream in = Profiler.class.getClassLoader().getResourceAsStream("linux-x64/libasyncProfiler.so")) {
            if (in == null) {
                throw new IOException("profile: linux-x64/libasyncProfiler.so is not on the classpath "
                        + "(tools.profiler:async-profiler missing from bench/target/lib; rebuild the bench jar)");
            }
            Files.createDirectories(dir);
            Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
        }
        return new Profiler(lib, event);
    }

    Event event() {
        return event;
    }

    /** Starts sampling in each target. */
    void start(List<Target> targets) throws IOException {
        for (Target t : targets) {
            command(t.pid(), "start," + event.options);
            running.add(t);
        }
    }

    /**
     * Stops sampling in every started process and writes {@code <prefix>-<label>-<event>.html} and {@code .collapsed}
     * into dir; returns the files written.
     */
    List<Path> stop(Path dir, String prefix) throws IOException {
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        for (Target t : running) {
            String base = prefix + "-" + t.label().replaceAll("[^A-Za-z0-9_.-]+", "-") + "-" + event.label();
            Path html = dir.resolve(base + ".html").toAbsolutePath();
            Path collapsed = dir.resolve(base + ".collapsed").toAbsolutePath();
            // collapsed first without stopping (dump), then the flame graph with stop: both from the same samples
            command(t.pid(), "dump,collapsed,file=" + collapsed);
            command(t.pid(), "stop,title=" + base + ",file=" + html);
            Path top = dir.resolve(base + ".top.txt");
            Files.writeString(top, topFrames(collapsed, base));
            Files.deleteIfExists(collapsed); // megabytes; the flame graph and the top list carry what it says
            written.add(html);
            written.add(top);
        }
        running.clear();
        return written;
    }

    /** The frames with the most samples: self (leaf) and total (anywhere on the stack), overall and Tollgate's own. */
    static String topFrames(Path collapsed, String title) throws IOException {
        Map<String, Long> self = new HashMap<>();
        Map<String, Long> total = new HashMap<>();
        long samples = 0;
        try (BufferedReader r = Files.newBufferedReader(collapsed)) {
            String line;
            while ((line = r.readLine()) != null) {
                int space = line.lastIndexOf(' ');
                if (space <= 0) {
                    continue;
                }
                long n = Long.parseLong(line.substring(space + 1).trim());
                String[] frames = line.substring(0, space).split(";");
                samples += n;
                self.merge(frames[frames.length - 1], n, Long::sum);
                Set<String> seen = new HashSet<>();
                for (String f : frames) {
                    if (seen.add(f)) {
                        total.merge(f, n, Long::sum);
                    }
                }
            }
        }
        StringBuilder b = new StringBuilder();
        b.append(title).append(": ").append(samples).append(" samples\n");
        section(b, "self (the frame itself)", self, samples, f -> true);
        section(b, "total, Tollgate's own frames", total, samples, f -> f.startsWith("dev/tollgate/"));
        section(b, "total, every frame", total, samples, f -> true);
        return b.toString();
    }

    private static void section(StringBuilder b, String heading, Map<String, Long> counts, long samples,
                                java.util.function.Predicate<String> keep) {
        b.append("\n").append(heading).append(":\n");
        counts.entrySet().stream().filter(e -> keep.test(e.getKey()))
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(30)
                .forEach(e -> b.append(String.format(Locale.ROOT, "%6.2f%%  %s%n",
                        samples == 0 ? 0.0 : 100.0 * e.getValue() / samples, e.getKey())));
    }

    private void command(long pid, String options) throws IOException {
        VirtualMachine vm;
        try {
            vm = VirtualMachine.attach(Long.toString(pid));
        } catch (AttachNotSupportedException e) {
            throw new IOException("profile: cannot attach to process " + pid + ": " + e.getMessage(), e);
        }
        try {
            vm.loadAgentPath(library.toString(), options);
        } catch (AgentLoadException | AgentInitializationException e) {
            throw new IOException("profile: async-profiler in process " + pid + " refused '" + options + "': "
                    + e.getMessage(), e);
        } finally {
            vm.detach();
        }
    }
}
