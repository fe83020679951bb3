package dev.tollgate.proxy;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.proxy.config.ConfigException;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;

/**
 * {@code tollgate sidecar --config sidecar.yaml}: runs the sidecar until SIGTERM or SIGINT, then drains gracefully
 * and exits 0 (1 when the drain timed out). An invalid configuration prints every error and exits 2. A sidecar whose
 * SVID comes from the control plane and that holds none for {@code control-plane.join-timeout} (no usable join token,
 * say) exits 3, naming where it reads the join token, so that an orchestrator restarts it.
 */
@Command(name = "sidecar", mixinStandardHelpOptions = true,
        description = "Runs the Tollgate sidecar: mTLS ingress, egress, L4 tunnel and admin listeners.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:drained cleanly after SIGTERM/SIGINT", "1:drain timed out or start failed",
                "2:invalid configuration or usage",
                "3:no valid SVID within control-plane.join-timeout (missing or spent join token)"})
public final class SidecarCommand implements Callable<Integer> {
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILED = 1;
    public static final int EXIT_CONFIG = 2;
    public static final int EXIT_NO_SVID = 3;

    @Option(names = "--config", paramLabel = "<file>",
            description = "The sidecar's YAML configuration file (listeners, app, tls, identity, upstreams, limits, "
                    + "credentials, policy).")
    Path config;

    @Option(names = "--check", description = "Only validate the configuration and that every file it names can be "
            + "read (certificates, keys, bundles, trust anchor, policy), print the result and exit.")
    boolean check;

    @Option(names = "--training-run", paramLabel = "<requests>", arity = "0..1", fallbackValue = "400",
            description = "Instead of serving: run an agent sidecar and a tool sidecar in this process on loopback with "
                    + "a throwaway PKI, send <requests> requests (default ${FALLBACK-VALUE}) through them, and exit 0. "
                    + "Run under -XX:ArchiveClassesAtExit=FILE it writes the class-data archive that makes later starts "
                    + "faster; the launcher does this on first use (docs/sidecar.md).")
    Integer trainingRun;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        if (trainingRun != null) {
            if (config != null || check) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--training-run takes no --config or --check");
            }
            if (trainingRun < 1 || trainingRun > 100_000) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--training-run: between 1 and 100000 requests (got " + trainingRun + ")");
            }
            long started = System.nanoTime();
            try {
                int answered = TrainingRun.run(trainingRun);
                out.printf("training run: %d requests answered in %d ms%n", answered,
                        (System.nanoTime() - started) / 1_000_000);
                out.flush();
                return EXIT_OK;
            } catch (java.io.IOException e) {
                err.println("training run failed: " + e.getMessage());
                err.flush();
                return EXIT_FAILED;
            }
        }
        if (config == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--config=<file>'");
        }
        SidecarConfig cfg;
        try {
            cfg = ConfigLoader.load(config);
        } catch (ConfigException e) {
            err.println(config + ": " + e.getMessage());
            err.flush();
            return EXIT_CONFIG;
        }
        if (check) {
            java.util.List<String> files = dev.tollgate.proxy.config.ConfigFiles.problems(cfg);
            if (!files.isEmpty()) {
                err.println(config + ": " + files.size() + (files.size() == 1 ? " file" : " files")
                        + " named in the configuration cannot be read:");
                files.forEach(f -> err.println("  " + f));
                err.flush();
                return EXIT_CONFIG;
            }
            out.println(config + ": configuration is valid");
            dev.tollgate.proxy.config.ConfigFiles.notes(cfg).forEach(n -> out.println("note: " + n));
            cfg.controlPlane().ifPresent(cp -> out.println("SVID from the control plane at " + cp.url()
                    + cp.k8sAttestation().map(k -> " (Kubernetes attestation with the service-account token in "
                            + k.tokenFile() + k.cluster().map(c -> ", cluster " + c).orElse("") + ")")
                    .orElseGet(() -> " (join token: " + cp.joinTokenFile().map(Object::toString)
                            .orElse("$" + dev.tollgate.proxy.config.ConfigDefaults.JOIN_TOKEN_ENV) + ")")));
            var p = cfg.policy();
            out.println(switch (p.origin()) {
                case NONE -> "no policy: only the task scope is checked";
                case FILE -> "policy from " + p.file().orElseThrow() + ", checked every " + p.reloadInterval().toMillis()
                        + "ms" + (p.required() ? "; egress denied until it loads" : "");
                case CONTROL_PLANE -> "policy from the control plane's watch stream"
                        + (p.required() ? "; egress denied until it arrives" : "");
            });
            out.flush();
            return EXIT_OK;
        }
        Sidecar sidecar = Sidecar.builder(cfg).build();
        try {
            sidecar.start();
        } catch (java.io.IOException e) {
            err.println("sidecar failed to start: " + e.getMessage());
            err.flush();
            sidecar.close();
            return EXIT_FAILED;
        }
        CountDownLatch stop = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReference<String> gaveUp = new java.util.concurrent.atomic.AtomicReference<>();
        if (sidecar.certificateSource() instanceof dev.tollgate.proxy.identity.ControlPlaneCertificateSource cps) {
            cps.joinTimedOut().thenAccept(message -> {
                gaveUp.set(message);
                stop.countDown();
            });
        }
        if (!onSignals(stop::countDown, "TERM", "INT")) {
            // Without signal handlers, drain from a shutdown hook and end with the drain's exit code.
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                if (gaveUp.get() != null) {
                    return; // exiting with EXIT_NO_SVID; the sidecar is closed already
                }
                int code = drainAndClose(sidecar);
                Runtime.getRuntime().halt(code);
            }, "tollgate-drain"));
        }
        stop.await();
        if (gaveUp.get() != null) {
            err.println("sidecar: " + gaveUp.get());
            err.flush();
            sidecar.close(); // without an SVID it serves nothing: no drain
            return EXIT_NO_SVID;
        }
        return drainAndClose(sidecar);
    }

    private static int drainAndClose(Sidecar sidecar) {
        // Whatever the connections and tasks do, the process ends: after the drain timeout and the bound of close.
        long boundMillis = sidecar.drainTimeout().plus(Sidecar.CLOSE_BOUND).toMillis();
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(boundMillis);
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("shutdown did not finish within " + boundMillis + " ms: halting");
            Runtime.getRuntime().halt(EXIT_FAILED);
        }, "tollgate-shutdown-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            return sidecar.drain() ? EXIT_OK : EXIT_FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return EXIT_FAILED;
        } finally {
            sidecar.close();
        }
    }

    /**
     * Installs {@code action} as the handler of the named signals through {@code sun.misc.Signal}, looked up
     * reflectively because it is not a standard API. Returns false when it is not available.
     */
    public static boolean onSignals(Runnable action, String... names) {
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
            Object handler = java.lang.reflect.Proxy.newProxyInstance(handlerType.getClassLoader(),
                    new Class<?>[] {handlerType}, (proxy, method, args) -> switch (method.getName()) {
                        case "handle" -> {
                            action.run();
                            yield null;
                        }
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> "tollgate-signal-handler";
                    });
            java.lang.reflect.Method handle = signal.getMethod("handle", signal, handlerType);
            for (String name : names) {
                handle.invoke(null, signal.getConstructor(String.class).newInstance(name), handler);
            }
            return true;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return false;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new SidecarCommand()).execute(args));
    }
}
