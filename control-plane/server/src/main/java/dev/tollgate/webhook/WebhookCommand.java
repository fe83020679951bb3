package dev.tollgate.webhook;

import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.controlplane.config.ConfigException;
import dev.tollgate.controlplane.config.ConfigValues;

/** {@code ./tollgate webhook}: the sidecar injector, until SIGTERM or Ctrl-C. */
@Command(name = "webhook", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the sidecar injector: a Kubernetes mutating admission webhook (HTTPS, POST /mutate) that adds",
                "the Tollgate sidecar to opted-in pods (docs/kubernetes.md). Options come from --config (YAML; every",
                "option is listed with its default in config/webhook.yaml) and --set, which wins over the file."},
        footer = {"", "Exit status: 0 after a clean stop, 2 for invalid configuration, 1 when start-up fails."})
public final class WebhookCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration file")
    Path config;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "set any configuration option, like --set sidecar.native=false (repeatable)")
    Map<String, String> overrides = new LinkedHashMap<>();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        WebhookConfig cfg;
        try {
            cfg = parse();
        } catch (ConfigException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            return 2;
        }
        Webhook webhook;
        try {
            webhook = Webhook.start(cfg, Clock.systemUTC());
        } catch (Exception e) {
            spec.commandLine().getErr().println("error: the webhook did not start: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            webhook.close();
            stopped.countDown();
        }, "tollgate-shutdown"));
        var out = spec.commandLine().getOut();
        out.println("Tollgate sidecar injector");
        out.println("  webhook        https://" + webhook.address().getHostString() + ":" + webhook.address().getPort() + WebhookServer.PATH);
        out.println("  metrics        http://" + webhook.adminAddress().getHostString() + ":" + webhook.adminAddress().getPort() + "/metrics");
        out.println("  sidecar image  " + cfg.injection().image() + (cfg.injection().nativeSidecar() ? " (native sidecar)" : " (regular container)"));
        out.flush();
        stopped.await();
        return 0;
    }

    WebhookConfig parse() {
        ConfigValues v = WebhookConfig.values();
        if (config != null) {
            v.loadYaml(config);
        }
        overrides.forEach((k, val) -> v.set(k, val, "--set"));
        return WebhookConfig.parse(v);
    }
}
