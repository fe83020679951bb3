package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Pauses in a unified JVM GC log ({@code -Xlog:gc}): lines like {@code ... GC(3) Pause Young (Normal) ... 1.234ms}
 * (serial, G1) or {@code ... GC(3) Pause Init Mark 0.123ms} (Shenandoah), one line per pause.
 *
 * @param p999Millis the 99.9th percentile pause (nearest rank): the longest pause of a log with fewer than 1,000
 */
record GcLog(int pauses, double totalMillis, double maxMillis, double p999Millis) {
    private static final Pattern PAUSE = Pattern.compile("GC\\(\\d+\\) Pause .* ([0-9.]+)ms\\s*$");

    static GcLog read(Path file) throws IOException {
        double[] ms = Files.readAllLines(file).stream().map(PAUSE::matcher).filter(Matcher::find)
                .mapToDouble(m -> Double.parseDouble(m.group(1))).sorted().toArray();
        if (ms.length == 0) {
            return new GcLog(0, 0, 0, 0);
        }
        int rank = (int) Math.ceil(ms.length * 0.999);
        return new GcLog(ms.length, Arrays.stream(ms).sum(), ms[ms.length - 1], ms[rank - 1]);
    }
}
