package dev.tollgate.proxy;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tollgate sidecar --config sidecar.yaml}: runs the sidecar until SIGTERM or SIGINT, then drains gracefully
 * and exits 0 (1 when the drain timed out). An invalid configuration prints every error and exits 2. A sidecar whose
 * SVID comes from the control plane and that holds none for {@code control-plane.join-timeout} (no usable join token,
 * say) exits 3, naming where it reads the join token, so that an orchestrator restarts it.
 */
@Command(name = "sidecar", mixinStandardHelpOptions = true, versionProvider = SidecarCommand.Version.class,
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
            description = "Instead of serving: run pairs of an agent sidecar and a tool sidecar in this process on "
                    + "loopback with a throwaway PKI, send requests through them, and exit 0 (1, naming the reason, "
                    + "when a request is not answered 200). One pair passes traffic through and gets <requests> "
                    + "requests (default ${FALLBACK-VALUE}); the other, which gets at most "
                    + TrainingRun.ENFORCING_REQUESTS + ", enforces: joined to an in-process training control plane "
                    + "(join token, watch stream, token exchange, decision log), task credentials required, MCP "
                    + "inspection and a policy, so that it loads what an enforcing sidecar loads. Run under "
                    + "-XX:ArchiveClassesAtExit=FILE it writes the class-data archive that makes later starts faster, "
                    + "enforcing ones included; the launcher does this on first use (docs/sidecar.md).")
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
                TrainingRun.Result answered = TrainingRun.run(trainingRun);
                out.printf("training run: %d requests answered by the pass-through pair and %d by the enforcing pair "
                        + "in %d ms%n", answered.passThrough(), answered.enforcing(),
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
        return SidecarMain.run(config, check, out, err);
    }

    /** The command line of this command alone, named as under the launcher. */
    public static CommandLine commandLine() {
        return new CommandLine(new SidecarCommand()).setCommandName("tollgate sidecar");
    }

    /** Parses and runs {@code args} with {@link #commandLine()}; the exit code. */
    static int execute(String[] args) {
        return commandLine().execute(args);
    }

    /** Tollgate's version from the jar manifest, or "development" when run from classes or a jar without one. */
    public static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = SidecarCommand.class.getPackage().getImplementationVersion();
            return new String[] {"tollgate " + (v == null ? "development" : v)};
        }
    }
}
