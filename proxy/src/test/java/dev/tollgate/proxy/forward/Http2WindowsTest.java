package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigException;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;

/**
 * The HTTP/2 windows the sidecar announces, read off the wire: the stream window in the SETTINGS of its preface and
 * the connection window in the WINDOW_UPDATE on stream 0 that follows, on a client-facing connection (egress, HTTP/2
 * with prior knowledge) and on an upstream connection (mTLS, ALPN h2).
 */
class Http2WindowsTest {
    static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    static final int SETTINGS = 0x4;
    static final int WINDOW_UPDATE = 0x8;
    static final int SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
    static final int DEFAULT_WINDOW = 65_535;

    @TempDir
    Path dir;
    Mesh mesh;

    @BeforeEach
    void start() {
        mesh = new Mesh(dir);
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    /** What a peer announced: its stream window (-1: not in SETTINGS) and its connection window. */
    record Windows(int stream, int connection) {
    }

    @Test
    void clientConnectionsAnnounceTheDefaultWindows() throws Exception {
        Sidecar agent = mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true)
                .spiffeUpstream("billing", "127.0.0.1:9", Mesh.id("tool/billing"), "billing.internal"));

        Windows w = readAnnouncedWindows(agent.egressAddress().orElseThrow(), 4 << 20);

        assertThat(w).isEqualTo(new Windows(1 << 20, 4 << 20));
    }

    @Test
    void clientConnectionsAnnounceTheConfiguredWindows() throws Exception {
        Sidecar agent = mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true)
                .spiffeUpstream("billing", "127.0.0.1:9", Mesh.id("tool/billing"), "billing.internal")
                .limit("http2: {initial-window-size: 256KiB, connection-window-size: 2MiB}"));

        Windows w = readAnnouncedWindows(agent.egressAddress().orElseThrow(), 2 << 20);

        assertThat(w).isEqualTo(new Windows(256 << 10, 2 << 20));
    }

    @Test
    void upstreamConnectionsAnnounceTheConfiguredWindows() throws Exception {
        SSLServerSocket server = (SSLServerSocket) mesh.clientContext(mesh.pki.svid("tool/billing"))
                .getServerSocketFactory().createServerSocket(0, 8, InetAddress.getLoopbackAddress());
        mesh.track(server);
        SSLParameters params = server.getSSLParameters();
        params.setApplicationProtocols(new String[] {"h2"});
        params.setNeedClientAuth(true);
        server.setSSLParameters(params);
        CompletableFuture<Windows> seen = CompletableFuture.supplyAsync(() -> {
            try (SSLSocket s = (SSLSocket) server.accept()) {
                s.setSoTimeout(20_000);
                s.startHandshake();
                byte[] preface = s.getInputStream().readNBytes(PREFACE.length);
                assertThat(preface).isEqualTo(PREFACE);
                // The server's preface: empty SETTINGS; the client's windows are read after it.
                s.getOutputStream().write(frame(SETTINGS, 0, new byte[0]));
                s.getOutputStream().flush();
                return windows(s.getInputStream(), 3 << 20);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        Sidecar agent = mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true)
                .spiffeUpstream("billing", "127.0.0.1:" + server.getLocalPort(), Mesh.id("tool/billing"),
                        "billing.internal", "2s")
                .limit("http2: {initial-window-size: 512KiB, connection-window-size: 3MiB}"));
        CompletableFuture.runAsync(() -> {
            try (Socket s = new Socket("127.0.0.1", agent.egressAddress().orElseThrow().getPort())) {
                s.setSoTimeout(20_000);
                s.getOutputStream().write("GET /x HTTP/1.1\r\nHost: billing.internal\r\n\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1));
                s.getInputStream().read();
            } catch (IOException ignored) {
                // the fake upstream never answers; only what it saw matters
            }
        });

        assertThat(seen.get(30, TimeUnit.SECONDS)).isEqualTo(new Windows(512 << 10, 3 << 20));
    }

    @Test
    void refusesAConnectionWindowSmallerThanTheStreamWindow() {
        assertThatThrownBy(() -> ConfigLoader.parse("listeners: {admin: {}}\ntls: {cert: a, key: b, bundle: c}\n"
                + "limits: {http2: {initial-window-size: 2MiB, connection-window-size: 1MiB}}\n", null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("limits.http2.connection-window-size: 1048576 (expected: >= "
                        + "limits.http2.initial-window-size, 2097152");
        assertThatThrownBy(() -> ConfigLoader.parse("listeners: {admin: {}}\ntls: {cert: a, key: b, bundle: c}\n"
                + "limits: {http2: {initial-window-size: 1KiB}}\n", null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("limits.http2.initial-window-size");
    }

    /** Opens an h2c connection with prior knowledge and reads the windows the server announces. */
    private static Windows readAnnouncedWindows(InetSocketAddress a, int expectedConnectionWindow)
            throws IOException {
        try (Socket s = new Socket("127.0.0.1", a.getPort())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(PREFACE);
            out.write(frame(SETTINGS, 0, new byte[0]));
            out.flush();
            return windows(s.getInputStream(), expectedConnectionWindow);
        }
    }

    /**
     * Reads frames until the peer's first SETTINGS was seen and its WINDOW_UPDATEs on stream 0 opened the connection
     * window to at least {@code expectedConnectionWindow} (Netty opens it by itself to about twice the stream
     * window; whatever more is announced comes from the sidecar). A peer that never gets there times the read out.
     */
    private static Windows windows(InputStream raw, int expectedConnectionWindow) throws IOException {
        DataInputStream in = new DataInputStream(raw);
        int stream = -1;
        boolean settingsSeen = false;
        int connection = DEFAULT_WINDOW;
        while (!settingsSeen || connection < expectedConnectionWindow) {
            int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
            int type = in.readUnsignedByte();
            int flags = in.readUnsignedByte();
            int streamId = in.readInt() & 0x7fffffff;
            byte[] payload = in.readNBytes(length);
            if (type == SETTINGS && (flags & 0x1) == 0 && !settingsSeen) {
                settingsSeen = true;
                for (int i = 0; i + 6 <= payload.length; i += 6) {
                    int id = (payload[i] & 0xff) << 8 | (payload[i + 1] & 0xff);
                    int value = (payload[i + 2] & 0xff) << 24 | (payload[i + 3] & 0xff) << 16
                            | (payload[i + 4] & 0xff) << 8 | (payload[i + 5] & 0xff);
                    if (id == SETTINGS_INITIAL_WINDOW_SIZE) {
                        stream = value;
                    }
                }
            } else if (type == WINDOW_UPDATE && streamId == 0) {
                connection += (payload[0] & 0x7f) << 24 | (payload[1] & 0xff) << 16 | (payload[2] & 0xff) << 8
                        | (payload[3] & 0xff);
            }
        }
        return new Windows(stream, connection);
    }

    private static byte[] frame(int type, int streamId, byte[] payload) {
        byte[] f = new byte[9 + payload.length];
        f[0] = (byte) (payload.length >>> 16);
        f[1] = (byte) (payload.length >>> 8);
        f[2] = (byte) payload.length;
        f[3] = (byte) type;
        f[4] = 0;
        f[5] = (byte) (streamId >>> 24);
        f[6] = (byte) (streamId >>> 16);
        f[7] = (byte) (streamId >>> 8);
        f[8] = (byte) streamId;
        System.arraycopy(payload, 0, f, 9, payload.length);
        return f;
    }
}
