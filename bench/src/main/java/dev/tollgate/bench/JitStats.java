package dev.tollgate.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * What HotSpot's JIT compilers did in a running JVM so far, as {@code jstat -compiler <pid>} reports it (the JDK's
 * own tool, beside this JVM's {@code java}): methods compiled and seconds spent compiling.
 */
record JitStats(long compiled, double seconds) {
    /** The figures of process {@code pid}, or empty (with a message) when jstat is missing, fails or is not answered. */
    static Optional<JitStats> of(long pid) throws IOException, InterruptedException {
        Path jstat = Path.of(System.getProperty("java.home"), "bin", "jstat");
        if (!Files.isExecutable(jstat)) {
            System.out.println("no " + jstat + ": the sidecars' JIT figures are left out");
            return Optional.empty();
        }
        Process p = new ProcessBuilder(jstat.toString(), "-compiler", Long.toString(pid)).redirectErrorStream(true)
                .start();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            System.out.println("jstat -compiler " + pid + " did not answer within 10 s: its JIT figures are left out");
            return Optional.empty();
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Optional<JitStats> j = p.exitValue() == 0 ? parse(out) : Optional.empty();
        if (j.isEmpty()) {
            System.out.println("jstat -compiler " + pid + " answered no figures: " + out.strip());
        }
        return j;
    }

    /**
     * Reads jstat's two lines: a header naming {@code Compiled} and {@code Time} (seconds), then the values; empty
     * when either column is missing or not a number.
     */
    static Optional<JitStats> parse(String jstatOutput) {
        String[] lines = jstatOutput.strip().split("\\R");
        if (lines.length < 2) {
            return Optional.empty();
        }
        List<String> head = List.of(lines[0].trim().split("\\s+"));
        String[] values = lines[1].trim().split("\\s+");
        int compiled = head.indexOf("Compiled");
        int time = head.indexOf("Time");
        if (compiled < 0 || time < 0 || values.length <= Math.max(compiled, time)) {
            return Optional.empty();
        }
        try {
            return Optional.of(new JitStats(Long.parseLong(values[compiled]), Double.parseDouble(values[time])));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
