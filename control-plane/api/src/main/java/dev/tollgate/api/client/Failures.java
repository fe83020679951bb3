package dev.tollgate.api.client;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * One readable line for a failure to reach the control plane: each distinct cause once, a cause without a message
 * by what it means ({@code connection refused}, never {@code null}), at most {@link #MAX_LENGTH} characters. The
 * JDK's HTTP client wraps one cause in several exceptions that repeat its message; this says it once.
 */
public final class Failures {
    public static final int MAX_LENGTH = 300;
    private static final java.util.regex.Pattern CLASS_PREFIX =
            java.util.regex.Pattern.compile("^(?:[a-z][a-z0-9_]*\\.)+[A-Z][A-Za-z0-9_$]*(?:Exception|Error): ");

    private Failures() {
    }

    public static String describe(Throwable failure) {
        List<String> parts = new ArrayList<>();
        Map<Throwable, Boolean> seen = new IdentityHashMap<>();
        for (Throwable t = failure; t != null && seen.put(t, Boolean.TRUE) == null; t = t.getCause()) {
            String part = describeOne(t);
            if (part == null) {
                continue;
            }
            boolean repeated = false;
            for (String p : parts) {
                if (p.contains(part) || part.contains(p)) {
                    repeated = true;
                    break;
                }
            }
            if (!repeated) {
                parts.add(part);
            }
        }
        String line = parts.isEmpty() ? failure.getClass().getSimpleName() : String.join(": ", parts);
        return line.length() <= MAX_LENGTH ? line : line.substring(0, MAX_LENGTH - 1) + "…";
    }

    private static String describeOne(Throwable t) {
        String m = t.getMessage();
        if (t instanceof HttpConnectTimeoutException) {
            return "connection timed out";
        }
        if (t instanceof ConnectException) {
            return m == null || m.isBlank() || m.startsWith("Connection refused") ? "connection refused" : m;
        }
        if (t instanceof UnknownHostException) {
            return "unknown host" + (m == null ? "" : " " + m);
        }
        if (t instanceof NoRouteToHostException) {
            return "no route to host";
        }
        if (t instanceof HttpTimeoutException || t instanceof SocketTimeoutException) {
            return "timed out";
        }
        if (t instanceof ClosedChannelException) {
            return "connection closed";
        }
        if (m == null || m.isBlank()) {
            return null;
        }
        // the JDK often repeats a cause as "java.security.cert.CertificateException: message": keep the message
        String text = CLASS_PREFIX.matcher(m.strip()).replaceFirst("");
        return text.isEmpty() ? null : text;
    }
}
