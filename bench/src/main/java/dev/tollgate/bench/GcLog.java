package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Pauses in a unified JVM GC log ({@code -Xlog:gc}): lines like {@code ... GC(3) Pause Young (Normal) ... 1.234ms}. */
record GcLog(int pauses, double totalMillis, double maxMillis) {
    private static final Pattern PAUSE = Pattern.compile("GC\\(\\d+\\) Pause .* ([0-9.]+)ms\\s*$");

    static GcLog read(Path file) throws IOException {
        int n = 0;
        double total = 0;
        double max = 0;
        for (String line : Files.readAllLines(file)) {
            Matcher m = PAUSE.matcher(line);
            if (m.find()) {
                double ms = Double.parseDouble(m.group(1));
                n++;
                total += ms;
                max = Math.max(max, ms);
            }
        }
        return new GcLog(n, total, max);
    }
}
