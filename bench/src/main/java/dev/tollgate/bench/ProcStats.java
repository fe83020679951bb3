package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * CPU time and resident memory of a process and its descendants (an nginx master and its worker, say), read from
 * {@code /proc/<pid>/stat} and {@code /proc/<pid>/status}. Linux only.
 */
final class ProcStats {
    static final long CLOCK_TICKS_PER_SECOND = clockTicks();

    private ProcStats() {
    }

    /** The process and every live descendant. */
    static List<Long> tree(long pid) {
        List<Long> pids = new ArrayList<>();
        pids.add(pid);
        ProcessHandle.of(pid).ifPresent(h -> h.descendants().forEach(d -> pids.add(d.pid())));
        return pids;
    }

    /** User plus system CPU seconds used so far by the process and its live descendants (utime + stime). */
    static double cpuSeconds(long pid) throws IOException {
        long ticks = 0;
        for (long p : tree(pid)) {
            try {
                String stat = Files.readString(Path.of("/proc", String.valueOf(p), "stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                // after "pid (comm) " the fields start at field 3 (state); utime is field 14, stime 15
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
            } catch (NoSuchFileException e) {
                if (p == pid) {
                    throw e;
                }
                // a descendant that just exited
            }
        }
        return ticks / (double) CLOCK_TICKS_PER_SECOND;
    }

    /** Resident set size in KiB ({@code VmRSS}) of the process and its live descendants together. */
    static long rssKib(long pid) throws IOException {
        long kib = 0;
        for (long p : tree(pid)) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(p), "status"))) {
                    if (line.startsWith("VmRSS:")) {
                        kib += Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
                    }
                }
            } catch (NoSuchFileException e) {
                if (p == pid) {
                    throw e;
                }
            }
        }
        return kib;
    }

    private static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) {
                return Long.parseLong(out);
            }
        } catch (IOException | NumberFormatException e) {
            // fall through to the Linux default
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 100;
    }
}
