package dev.tollgate.proxy.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/** Small HTTP helpers for tests: the JDK client over mTLS and a raw TLS exchange. */
public final class Http {
    private Http() {
    }

    public static HttpClient client(SSLContext ssl, HttpClient.Version version) {
        HttpClient.Builder b = HttpClient.newBuilder().version(version).connectTimeout(Duration.ofSeconds(5));
        if (ssl != null) {
            b.sslContext(ssl);
        }
        return b.build();
    }

    public static HttpResponse<String> get(HttpClient client, String url, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    public static String https(InetSocketAddress a, String path) {
        return "https://127.0.0.1:" + a.getPort() + path;
    }

    public static String http(InetSocketAddress a, String path) {
        return "http://127.0.0.1:" + a.getPort() + path;
    }

    /**
     * Opens a TLS connection, sends one GET and returns the status line, or {@code "failed: <exception>"} when the
     * handshake or the exchange failed.
     */
    public static String rawTlsGet(SSLContext ssl, InetSocketAddress a, String path) {
        try (SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", a.getPort())) {
            s.setSoTimeout(10_000);
            s.startHandshake();
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] all = in.readAllBytes();
            if (all.length == 0) {
                return "failed: connection closed without a response";
            }
            String text = new String(all, StandardCharsets.ISO_8859_1);
            return text.substring(0, text.indexOf("\r\n"));
        } catch (IOException e) {
            return "failed: " + e;
        }
    }

    /** Sends raw request text over a TLS connection and returns everything the server sent until it closed. */
    public static String rawTls(SSLContext ssl, InetSocketAddress a, String request) throws IOException {
        try (SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", a.getPort())) {
            s.setSoTimeout(20_000);
            s.startHandshake();
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /** Sends raw request text over plain TCP and returns everything the server sent until it closed. */
    public static String rawPlain(InetSocketAddress a, String request) throws IOException {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", a.getPort())) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /** A client that sends every request to {@code proxy} in absolute form, as agents with HTTP_PROXY do. */
    public static HttpClient viaProxy(InetSocketAddress proxy) {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(java.net.ProxySelector.of(new InetSocketAddress("127.0.0.1", proxy.getPort())))
                .connectTimeout(Duration.ofSeconds(5)).build();
    }
}
