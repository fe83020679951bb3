package dev.tollgate.proxy;

import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import dev.tollgate.proxy.config.ConfigException;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;

/**
 * The sidecar's entry point: the main class of {@code tollgate-sidecar.jar} (what {@code ./tollgate sidecar} and the
 * image run) and of the proxy jar. The one invocation every sidecar is started with, {@code --config FILE}
 * ({@link #directConfig}), runs without building a command-line model; everything else (help, {@code --check},
 * {@code --training-run}, any mistake) goes to {@link SidecarCommand} through picocli. picocli's classes cannot be
 * kept in the class-data archive (their class files predate Java 6), and loading them and reflecting over the command
 * cost about a tenth of a sidecar's start-up CPU (docs/sidecar.md, "Memory and start-up"). No picocli type appears in
 * this class (it also runs the sidecar for {@link SidecarCommand}), so that starting one loads none.
 */
public final class SidecarMain {
    private SidecarMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        Path direct = directConfig(args);
        if (direct != null) {
            System.exit(run(direct, false, new PrintWriter(System.out, true),
                    new PrintWriter(System.err, true)));
        }
        System.exit(SidecarCommand.execute(args));
    }

    /**
     * The file of exactly {@code --config FILE} or {@code --config=FILE}, where FILE is a plain path (not empty, not
     * an option, not an {@code @argument-file}); null for any other arguments, which picocli then parses.
     */
    static Path directConfig(String[] args) {
        String value;
        if (args.length == 2 && args[0].equals("--config")) {
            value = args[1];
        } else if (args.length == 1 && args[0].startsWith("--config=")) {
            value = args[0].substring("--config=".length());
        } else {
            return null;
        }
        if (value.isEmpty() || value.startsWith("-") || value.startsWith("@")) {
            return null;
        }
        try {
            return Path.of(value);
        } catch (InvalidPathException e) {
            return null; // picocli reports it
        }
    }

    /** Validates ({@code check}) or runs the sidecar of {@code config}: what {@link SidecarCommand#call} does with one. */
    static int run(Path config, boolean check, PrintWriter out, PrintWriter err) throws InterruptedException {
        SidecarConfig cfg;
        try {
            cfg = ConfigLoader.load(config);
        } catch (ConfigException e) {
            err.println(config + ": " + e.getMessage());
            err.flush();
            return SidecarCommand.EXIT_CONFIG;
        }
        if (check) {
            java.util.List<String> files = dev.tollgate.proxy.config.ConfigFiles.problems(cfg);
            if (!files.isEmpty()) {
                err.println(config + ": " + files.size() + (files.size() == 1 ? " file" : " files")
                        + " named in the configuration cannot be read:");
                files.forEach(f -> err.println("  " + f));
                err.flush();
                return SidecarCommand.EXIT_CONFIG;
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
            return SidecarCommand.EXIT_OK;
        }
        Sidecar sidecar = Sidecar.builder(cfg).build();
        try {
            sidecar.start();
        } catch (java.io.IOException e) {
            err.println("sidecar failed to start: " + e.getMessage());
            err.flush();
            sidecar.close();
            return SidecarCommand.EXIT_FAILED;
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
                    return; // exiting with SidecarCommand.EXIT_NO_SVID; the sidecar is closed already
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
            return SidecarCommand.EXIT_NO_SVID;
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
            Runtime.getRuntime().halt(SidecarCommand.EXIT_FAILED);
        }, "tollgate-shutdown-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            return sidecar.drain() ? SidecarCommand.EXIT_OK : SidecarCommand.EXIT_FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return SidecarCommand.EXIT_FAILED;
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
}
