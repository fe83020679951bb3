package dev.tollgate.controlplane;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.controlplane.config.ConfigException;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;

/** {@code ./tollgate control-plane}: runs the control plane until SIGTERM or Ctrl-C. */
@Command(name = "control-plane", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the control plane: CA, workloads, join tokens, SVIDs, operator API.",
                "Options come from --config (YAML; every option is listed with its default in config/control-plane.yaml)",
                "and the flags below, which win over the file. The CA key is sealed with a key-encryption key from",
                "--kek-file or the TOLLGATE_KEK environment variable."},
        footer = {"", "Exit status: 0 after a clean stop, 2 for invalid configuration, 1 when start-up fails."},
        subcommands = ControlPlaneCommand.Kek.class)
public final class ControlPlaneCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration file")
    Path config;

    @Option(names = "--trust-domain", description = "the SPIFFE trust domain (config: trust-domain; default tollgate.local)")
    String trustDomain;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "state directory (config: data-dir; default $TOLLGATE_HOME/control-plane)")
    Path dataDir;

    @Option(names = "--database-url", paramLabel = "JDBC_URL", description = "jdbc:sqlite:<file> or jdbc:postgresql://… (config: database.url)")
    String databaseUrl;

    @Option(names = "--api-listen", paramLabel = "HOST:PORT", description = "API address (config: api.listen; default 127.0.0.1:8443)")
    String apiListen;

    @Option(names = "--admin-listen", paramLabel = "HOST:PORT", description = "admin endpoint address (config: admin.listen; default 127.0.0.1:9443)")
    String adminListen;

    @Option(names = "--kek-file", paramLabel = "FILE", description = "key-encryption key file (config: kek.file; else $TOLLGATE_KEK)")
    Path kekFile;

    @Option(names = "--generate-kek", description = "create --kek-file with a new random key (mode 0600) if it does not exist; for local use")
    boolean generateKek;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "set any configuration option, like --set svid.default-ttl=2m (repeatable)")
    Map<String, String> overrides = new LinkedHashMap<>();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        ControlPlaneConfig cfg;
        try {
            cfg = parse(System.getenv());
        } catch (ConfigException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            return 2;
        }
        if (generateKek) {
            if (cfg.kekFile().isEmpty()) {
                spec.commandLine().getErr().println("error: --generate-kek needs --kek-file (where to write the key)");
                return 2;
            }
            generateKek(cfg.kekFile().get());
        }
        ControlPlane cp;
        try {
            cp = ControlPlane.start(cfg, System.getenv(), Clock.systemUTC());
        } catch (ConfigException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            return 2;
        } catch (Exception e) {
            spec.commandLine().getErr().println("error: the control plane did not start: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            cp.close();
            stopped.countDown();
        }, "tollgate-shutdown"));
        var out = spec.commandLine().getOut();
        out.println("Tollgate control plane, trust domain " + cfg.trustDomain());
        out.println("  API            " + cp.apiUri() + "  (presents " + cp.serverId() + ")");
        out.println("  metrics        http://" + cp.adminAddress().getHostString() + ":" + cp.adminAddress().getPort() + "/metrics");
        out.println("  database       " + cfg.database().url());
        out.println("  admin creds    " + cp.operatorDir());
        out.println("  try            " + ctlCommand(cfg, System.getenv()));
        out.flush();
        stopped.await();
        return 0;
    }

    /**
     * The exact ctl command that finds this control plane's credentials: without flags when its data-dir is the
     * default one (where ctl looks), else with the same {@code --data-dir}.
     */
    static String ctlCommand(ControlPlaneConfig cfg, Map<String, String> env) {
        Path dataDir = cfg.dataDir().toAbsolutePath().normalize();
        Path standard = ControlPlaneConfig.defaultHome(env).resolve("control-plane").toAbsolutePath().normalize();
        String flag = dataDir.equals(standard) ? "" : "--data-dir " + quote(dataDir.toString()) + " ";
        return "./tollgate ctl " + flag + "workload list";
    }

    private static String quote(String s) {
        return s.matches("[A-Za-z0-9_@%+=:,./-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }

    ControlPlaneConfig parse(Map<String, String> env) {
        ConfigValues v = ControlPlaneConfig.values();
        if (config != null) {
            v.loadYaml(config);
        }
        set(v, "trust-domain", trustDomain);
        set(v, "data-dir", dataDir == null ? null : dataDir.toString());
        set(v, "database.url", databaseUrl);
        set(v, "api.listen", apiListen);
        set(v, "admin.listen", adminListen);
        set(v, "kek.file", kekFile == null ? null : kekFile.toString());
        overrides.forEach((k, val) -> v.set(k, val, "--set"));
        return ControlPlaneConfig.parse(v, env);
    }

    private static void set(ConfigValues v, String key, String value) {
        if (value != null) {
            v.set(key, value, "command line");
        }
    }

    static void generateKek(Path file) throws IOException {
        if (Files.exists(file)) {
            return;
        }
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        byte[] raw = new byte[32];
        new SecureRandom().nextBytes(raw);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, Base64.getEncoder().encodeToString(raw) + "\n");
    }

    /** {@code ./tollgate control-plane [options] kek rotate --new-kek-file FILE}. */
    @Command(name = "kek", mixinStandardHelpOptions = true,
            description = "The key-encryption key that seals CA keys, token signing keys, audit checkpoint keys and "
                    + "upstream secrets.", subcommands = Kek.Rotate.class)
    static final class Kek implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }

        @Command(name = "rotate", mixinStandardHelpOptions = true, sortOptions = false,
                description = {"Re-seal every sealed value under a new KEK, in one transaction, offline: run it on "
                        + "the control plane's host with every control-plane replica stopped.",
                        "The current KEK comes from the control plane's options as at start-up (give them before "
                                + "`kek`: --config, --data-dir, --database-url, --kek-file, or $TOLLGATE_KEK); the new "
                                + "one from --new-kek-file. No key material crosses the API.",
                        "Afterwards start the control plane with the new KEK; the old one is refused."},
                footer = {"", "Exit status: 0 when rotated, 2 for invalid options, 1 when nothing was changed because "
                        + "of an error."})
        static final class Rotate implements Callable<Integer> {
            @CommandLine.ParentCommand
            Kek kek;

            @Option(names = "--new-kek-file", required = true, paramLabel = "FILE",
                    description = "file holding the new key-encryption key (at least 16 characters; e.g. "
                            + "openssl rand -base64 32 > FILE, mode 0600)")
            Path newKekFile;

            @Option(names = "--generate", description = "create --new-kek-file with a new random key (mode 0600) "
                    + "if it does not exist")
            boolean generate;

            @CommandLine.Spec
            CommandLine.Model.CommandSpec spec;

            @Override
            public Integer call() throws Exception {
                ControlPlaneCommand parent = (ControlPlaneCommand) spec.parent().parent().userObject();
                var err = spec.commandLine().getErr();
                ControlPlaneConfig cfg;
                try {
                    cfg = parent.parse(System.getenv());
                } catch (ConfigException e) {
                    err.println("error: " + e.getMessage());
                    return 2;
                }
                if (generate) {
                    generateKek(newKekFile);
                }
                try {
                    var r = rotate(cfg, System.getenv(), newKekFile, Clock.systemUTC());
                    var out = spec.commandLine().getOut();
                    out.println("rotated the key-encryption key: " + r.previousKekId() + " -> " + r.kekId() + " at "
                            + r.at());
                    r.resealed().forEach((k, n) -> out.println("  re-sealed " + n + " "
                            + k.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + (n == 1 ? "" : "s")));
                    out.println("start the control plane with the new KEK (" + newKekFile + "); the old one is "
                            + "refused from now on");
                    out.flush();
                    return 0;
                } catch (RuntimeException e) {
                    err.println("error: the KEK was not rotated, nothing changed (" + e.getMessage() + ")");
                    return 1;
                }
            }
        }
    }

    /**
     * Re-seals everything in the configured database under the KEK in {@code newKekFile}; the current KEK is the
     * configured one.
     */
    static dev.tollgate.controlplane.ca.KekRotation.Result rotate(ControlPlaneConfig cfg, Map<String, String> env,
                                                                 Path newKekFile, Clock clock) {
        var current = CaManagerFactory.sealing(cfg, env);
        var next = new dev.tollgate.controlplane.ca.KeyEncryption(
                dev.tollgate.controlplane.ca.KeyEncryption.load(java.util.Optional.of(newKekFile), env));
        try (var store = dev.tollgate.controlplane.store.JdbcStore.open(new dev.tollgate.controlplane.store.StoreSettings(
                cfg.database().url(), cfg.database().user().orElse(null), cfg.database().password().orElse(null),
                2, clock))) {
            var auditor = new dev.tollgate.controlplane.audit.Auditor(store, clock);
            return dev.tollgate.controlplane.ca.KekRotation.rotate(store, current, next, auditor, clock,
                    "local:" + System.getProperty("user.name", "unknown") + " (control-plane kek rotate)");
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new ControlPlaneCommand()).execute(args));
    }
}
