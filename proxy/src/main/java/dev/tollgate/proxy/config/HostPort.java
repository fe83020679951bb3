package dev.tollgate.proxy.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;

/** A host and port as written in configuration ({@code host:port}, IPv6 as {@code [::1]:port}). */
public record HostPort(String host, int port) {
    public static HostPort parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty (expected: host:port)");
        }
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException(text + " (expected: host:port)");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(text + " (expected: host:port with a numeric port)");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(text + " (expected: port in 0..65535)");
        }
        return new HostPort(host, port);
    }

    /** Whether the host is a loopback address literal or {@code localhost}. */
    public boolean isLoopback() {
        if (host.equals("localhost")) {
            return true;
        }
        if (!looksLikeIpLiteral(host)) {
            return false;
        }
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    private static boolean looksLikeIpLiteral(String h) {
        return h.indexOf(':') >= 0 || h.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
    }

    /** An unresolved socket address: resolution happens on connect, never while parsing. */
    public InetSocketAddress toUnresolved() {
        return InetSocketAddress.createUnresolved(host, port);
    }

    /** A resolved address for binding; listener hosts are literals or localhost. */
    public InetSocketAddress toBindAddress() {
        return new InetSocketAddress(host, port);
    }

    @Override
    public String toString() {
        return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    }
}
