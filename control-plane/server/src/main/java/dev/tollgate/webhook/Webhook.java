package dev.tollgate.webhook;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.controlplane.AdminServer;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;

/** The running webhook: its files (reloaded on a schedule), the HTTPS listener and the admin endpoint. */
public final class Webhook implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Webhook.class);

    private final WebhookServer server;
    private final AdminServer admin;
    private final ScheduledExecutorService reloader;
    private final JvmGcMetrics gc;
    private final WebhookMetrics metrics;

    private Webhook(WebhookServer server, AdminServer admin, ScheduledExecutorService reloader, JvmGcMetrics gc,
                    WebhookMetrics metrics) {
        this.server = server;
        this.admin = admin;
        this.reloader = reloader;
        this.gc = gc;
        this.metrics = metrics;
    }

    public static Webhook start(WebhookConfig cfg, Clock clock) throws IOException, InterruptedException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        JvmGcMetrics gc = ControlPlaneMetrics.bindJvmAndProcess(registry);
        WebhookMetrics metrics = new WebhookMetrics(registry, clock);
        ServingFiles files = ServingFiles.load(cfg.certFile(), cfg.keyFile(), cfg.trustAnchorFile(), metrics, clock);
        ScheduledExecutorService reloader = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tollgate-webhook-reload");
            t.setDaemon(true);
            return t;
        });
        long every = cfg.reloadInterval().toMillis();
        reloader.scheduleWithFixedDelay(() -> {
            try {
                files.reload();
            } catch (Throwable t) {
                log.error("webhook: file reload failed; retrying at the next interval", t);
            }
        }, every, every, TimeUnit.MILLISECONDS);
        WebhookServer server = null;
        try {
            server = WebhookServer.start(new WebhookServer.Settings(cfg.listen(), cfg.maxBodyBytes(),
                    cfg.maxConnections(), cfg.idleTimeout(), cfg.handshakeTimeout()), files::tls,
                    new SidecarInjector(cfg.injection()), files::trustAnchor, metrics);
            AdminServer admin = new AdminServer(cfg.adminListen(), registry, () -> true);
            return new Webhook(server, admin, reloader, gc, metrics);
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (server != null) {
                server.close();
            }
            reloader.shutdownNow();
            gc.close();
            throw e;
        }
    }

    public InetSocketAddress address() {
        return server.address();
    }

    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    public WebhookMetrics metrics() {
        return metrics;
    }

    @Override
    public void close() {
        reloader.shutdownNow();
        server.close();
        admin.close();
        gc.close();
    }
}
