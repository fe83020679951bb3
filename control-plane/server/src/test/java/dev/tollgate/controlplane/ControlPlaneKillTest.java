package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.store.JdbcStore;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreSettings;

/**
 * Kills a real control-plane process with SIGKILL in the middle of up to 1,000 issuances and checks that every
 * issuance it acknowledged is in the database, which opens without repair.
 */
class ControlPlaneKillTest {
    private static final int ISSUANCES = 1000;
    private static final int KILL_AFTER = 300;

    @TempDir
    Path dir;

    @Test
    void sigkillDuringIssuanceLosesNoAcknowledgedCertificate() throws Exception {
        Path data = dir.resolve("cp");
        Path kek = dir.resolve("kek");
        Files.writeString(kek, TestControlPlane.KEK);
        Path log = dir.resolve("control-plane.log");
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ControlPlaneCommand.class.getName(),
                "--trust-domain", TestControlPlane.TRUST_DOMAIN, "--data-dir", data.toString(),
                "--kek-file", kek.toString(), "--api-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Queue<String> acknowledged = new ConcurrentLinkedQueue<>();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            Path op = data.resolve("operator");
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(op.resolve(ControlPlane.ADMIN_KEY_FILE))
                    && Files.exists(op.resolve(ControlPlane.ADMIN_CERT_FILE)) || !process.isAlive());
            assertThat(process.isAlive()).as("control plane started; log:\n%s", Files.readString(log)).isTrue();
            var bundle = Pem.certificates(Files.readString(op.resolve(ControlPlane.BUNDLE_FILE)));
            SpiffeId serverId = SpiffeId.parse(Files.readString(op.resolve(ControlPlane.SERVER_ID_FILE)).trim());
            java.net.URI api = java.net.URI.create(Files.readString(op.resolve(ControlPlane.API_URL_FILE)).trim());
            ControlPlaneClient admin = ControlPlaneClient.builder(api).trustBundle(bundle).serverId(serverId)
                    .clientCertificate(Pem.certificates(Files.readString(op.resolve(ControlPlane.ADMIN_CERT_FILE))),
                            Pem.privateKey(Files.readString(op.resolve(ControlPlane.ADMIN_KEY_FILE))))
                    .build();
            SpiffeId agent = TestControlPlane.agent("crash");
            admin.registerWorkload(new WorkloadSpec(agent.toString(), "o", "s", "p", List.of(), null, null));
            KeyPair kp = Csrs.newP256();
            String token = admin.createJoinToken(agent, null).token();
            SvidResponse first = ControlPlaneClient.builder(api).trustBundle(bundle).serverId(serverId).build()
                    .joinSvid(new SvidRequest(Csrs.csrPem(kp), token, null));
            acknowledged.add(first.serial());
            ControlPlaneClient workload = ControlPlaneClient.builder(api).trustBundle(bundle).serverId(serverId)
                    .clientCertificate(Pem.certificates(first.chainPem()), kp.getPrivate()).timeout(Duration.ofSeconds(5))
                    .build();
            String csr = Csrs.csrPem(kp);
            AtomicInteger attempts = new AtomicInteger();
            List<java.util.concurrent.Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                workers.add(pool.submit(() -> {
                    while (attempts.incrementAndGet() <= ISSUANCES) {
                        try {
                            acknowledged.add(workload.renewSvid(new SvidRequest(csr, null, null)).serial());
                        } catch (RuntimeException e) {
                            return; // the process is gone
                        }
                    }
                }));
            }
            await().atMost(Duration.ofSeconds(120)).until(() -> acknowledged.size() >= KILL_AFTER);
            process.destroyForcibly();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            for (var w : workers) {
                w.get(30, TimeUnit.SECONDS);
            }
        } finally {
            process.destroyForcibly();
            pool.shutdownNow();
        }
        List<String> acked = List.copyOf(acknowledged);
        assertThat(acked.size()).isGreaterThanOrEqualTo(KILL_AFTER);
        System.out.printf("SIGKILL after %d acknowledged issuances; checking each is stored%n", acked.size());

        Path db = data.resolve("control-plane.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
             ResultSet rs = c.createStatement().executeQuery("PRAGMA integrity_check")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("ok");
        }
        try (Store store = JdbcStore.open(StoreSettings.sqlite(db, Clock.systemUTC()))) {
            for (String serial : acked) {
                assertThat(store.svid(serial)).as("acknowledged serial %s", serial).isPresent();
            }
        }
        // and the control plane starts again on the same state
        try (TestControlPlane again = TestControlPlane.start(data, null, Clock.systemUTC(), Map.of())) {
            assertThat(again.admin().svids(TestControlPlane.agent("crash"), 1000).size()).isGreaterThanOrEqualTo(Math.min(acked.size(), 1000));
        }
    }
}
