package dev.tollgate.proxy.identity;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.controlplane.ControlPlane;
import dev.tollgate.controlplane.ControlPlaneCommand;
import dev.tollgate.controlplane.TestControlPlane;

/**
 * A real control-plane process (as in the control plane's own kill test) on a fixed loopback port, so that it can be
 * killed with SIGKILL and started again on the same data directory and address.
 */
final class ControlPlaneProcess implements AutoCloseable {
    final Path data;
    final int port;
    private final Path dir;
    private final List<String> settings;
    private Process process;
    private int starts;

    ControlPlaneProcess(Path dir, List<String> settings) throws IOException {
        this.dir = dir;
        this.data = dir.resolve("cp");
        this.settings = settings;
        try (ServerSocket s = new ServerSocket(0)) {
            this.port = s.getLocalPort();
        }
        Files.writeString(dir.resolve("kek"), TestControlPlane.KEK);
    }

    ControlPlaneProcess start() throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ControlPlaneCommand.class.getName(),
                "--trust-domain", TestControlPlane.TRUST_DOMAIN, "--data-dir", data.toString(),
                "--kek-file", dir.resolve("kek").toString(), "--api-listen", "127.0.0.1:" + port,
                "--admin-listen", "127.0.0.1:0"));
        for (String s : settings) {
            cmd.add("--set");
            cmd.add(s);
        }
        Path log = dir.resolve("control-plane-" + (starts++) + ".log");
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            // generous: on a loaded 2-core machine a control-plane JVM takes most of a minute to listen
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100)).until(() -> accepting()
                    || !process.isAlive());
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new IllegalStateException("control plane not listening on " + port + " after 120 s:\n"
                    + Files.readString(log), e);
        }
        if (!process.isAlive()) {
            throw new IllegalStateException("control plane did not start:\n" + Files.readString(log));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(operator(ControlPlane.ADMIN_KEY_FILE)));
        return this;
    }

    private boolean accepting() {
        try (Socket s = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** SIGKILL, and wait until it is gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    Path operator(String file) {
        return data.resolve("operator").resolve(file);
    }

    URI url() {
        return URI.create("https://127.0.0.1:" + port);
    }

    SpiffeId serverId() throws IOException {
        return SpiffeId.parse(Files.readString(operator(ControlPlane.SERVER_ID_FILE)).trim());
    }

    ControlPlaneClient admin() throws IOException {
        return ControlPlaneClient.builder(url())
                .trustBundle(Pem.certificates(Files.readString(operator(ControlPlane.BUNDLE_FILE))))
                .serverId(serverId())
                .clientCertificate(Pem.certificates(Files.readString(operator(ControlPlane.ADMIN_CERT_FILE))),
                        Pem.privateKey(Files.readString(operator(ControlPlane.ADMIN_KEY_FILE))))
                .build();
    }

    ControlPlaneClient anonymous() throws IOException {
        return ControlPlaneClient.builder(url())
                .trustBundle(Pem.certificates(Files.readString(operator(ControlPlane.BUNDLE_FILE))))
                .serverId(serverId()).build();
    }

    @Override
    public void close() {
        if (process != null) {
            process.destroyForcibly();
        }
    }
}
