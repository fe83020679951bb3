package dev.tollgate.cli.demo;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.SidecarMain;

/**
 * {@code ./tollgate demo}: starts a control plane, two sidecars joined by token and a sample MCP tool server on
 * loopback, walks a scripted agent through seven steps (the last: a legacy integration under a time-boxed
 * exception, with the inventory and the posture report), prints what happened, why and the figure that proves it, then
 * keeps everything running until Ctrl-C ({@code --once}: exits after the walk-through). Everything it started and
 * every file it wrote is removed on exit.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run Tollgate locally with a scripted agent: blocked calls, rotation, revocation,",
                "and a legacy integration under a time-boxed exception (inventory, posture).",
                "",
                "A control plane, an agent and a tool with their sidecars and a sample MCP",
                "tool server, on 127.0.0.1 with ephemeral ports; all state in a temporary",
                "directory that is deleted on exit. Walk-through: docs/demo.md."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every step as expected (with --once), or stopped with Ctrl-C",
                "1:a step was not as expected (named on stderr), or start-up failed"})
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--once", description = "exit after the walk-through (0 only when every step was as expected)")
    boolean once;

    @Option(names = "--verbose", description = "also print the components' logs (INFO)")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private volatile Path workDir;
    private volatile List<StepResult> results = List.of();
    private final AtomicBoolean cleaned = new AtomicBoolean();
    private volatile Demo demo;

    @Override
    public Integer call() throws Exception {
        if (!verbose && System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            // Only warnings from the components: the walk-through is the output.
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        workDir = Files.createTempDirectory("tollgate-demo-");
        Thread hook = new Thread(this::cleanUp, "tollgate-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            out.println("Tollgate demo: starting a control plane, a tool server and two sidecars on 127.0.0.1 ...");
            out.flush();
            long start = System.nanoTime();
            demo = Demo.start(workDir);
            printLayout(out, (System.nanoTime() - start) / 1_000_000);
            results = new Walkthrough(demo, out).run();
            Optional<String> failure = Walkthrough.firstFailure(results);
            long passed = results.stream().filter(StepResult::passed).count();
            out.printf("%n%d of %d steps as expected.%n", passed, Walkthrough.STEPS);
            printNext(out);
            out.flush();
            if (failure.isPresent()) {
                err.println("demo: " + failure.get());
                err.flush();
            }
            if (once) {
                return failure.isPresent() ? 1 : 0;
            }
            out.println("Running until Ctrl-C (everything is removed on exit).");
            out.flush();
            CountDownLatch stop = new CountDownLatch(1);
            // Ctrl-C and SIGTERM end the wait and the run cleans up here; where signal handlers cannot be
            // installed, the JVM's shutdown runs the hook instead.
            SidecarMain.onSignals(stop::countDown, "INT", "TERM");
            stop.await();
            out.println("Stopped; removing everything.");
            out.flush();
            return 0;
        } catch (Exception e) {
            err.println("demo: could not start: " + e.getMessage());
            err.flush();
            return 1;
        } finally {
            cleanUp();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down: the hook runs (and finds nothing left to do)
            }
        }
    }

    private void printLayout(PrintWriter out, long startMillis) {
        var cp = demo.controlPlane();
        out.printf("Ready in %.1f s. Everything lives in %s%n", startMillis / 1000.0, workDir);
        out.println("  control plane   " + cp.apiUri() + "  (SQLite, trust domain " + Demo.TRUST_DOMAIN + ")");
        out.println("  agent           " + Demo.AGENT + "  owner alice@example.com / team-agents");
        out.println("    its sidecar   egress " + demo.mcpEndpoint() + "  (joined by a one-time token)");
        out.println("  tool            " + Demo.TOOL + "  owner bob@example.com / team-crm");
        out.println("    its sidecar   ingress 127.0.0.1:" + demo.toolSidecar().ingressAddress().orElseThrow().getPort()
                + " (mTLS) → MCP server http://" + demo.tools().address() + McpToolServer.PATH);
        out.println("  MCP tools       " + McpToolServer.READ_CUSTOMER + " (sensitive-read), " + McpToolServer.WEB_POST
                + " (external-egress), " + McpToolServer.SHELL_EXEC + " (never granted)");
        out.flush();
    }

    private void printNext(PrintWriter out) {
        var cp = demo.controlPlane();
        String creds = cp.operatorDir().toString();
        out.println();
        out.println("Where to look next:");
        out.println("  metrics   control plane  " + Demo.metricsUrl(cp.adminAddress()));
        out.println("            agent sidecar  " + metricsUrl(demo.agentSidecar()));
        out.println("            tool sidecar   " + metricsUrl(demo.toolSidecar()));
        out.println("  audit     ./tollgate ctl --credential-dir " + creds + " audit list");
        out.println("            ./tollgate ctl --credential-dir " + creds + " audit verify");
        out.println("  try       ./tollgate ctl --credential-dir " + creds + " workload list");
        out.println("            ./tollgate ctl --credential-dir " + creds + " svid list --id " + Demo.AGENT);
        out.println("            ./tollgate ctl --credential-dir " + creds + " task list");
        out.println("            ./tollgate ctl --credential-dir " + creds + " revocation list");
        out.println("  govern    ./tollgate ctl --credential-dir " + creds + " inventory list --workload "
                + Walkthrough.BATCH);
        out.println("            ./tollgate ctl --credential-dir " + creds + " posture --report posture.md");
        out.println("            ./tollgate ctl --credential-dir " + creds + " exception list");
        out.println("            ./tollgate ctl --credential-dir " + creds + " exception show " + results.stream()
                .map(r -> r.facts().get("exception")).filter(java.util.Objects::nonNull).map(String::valueOf)
                .findFirst().orElse("<id from the list>") + "   (requester, approver, revoker)");
        out.println("            ./tollgate ctl --credential-dir " + creds + " upstream-secret list");
        out.println("            ./tollgate ctl --credential-dir " + creds + " task create " + Demo.AGENT
                + " --tool " + McpToolServer.READ_CUSTOMER + " --intent \"look up c-1\"");
        out.println("            curl -s " + demo.mcpEndpoint() + " -H 'Authorization: Bearer <token>' "
                + "-H 'Content-Type: application/json' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                + "\"params\":{\"name\":\"" + McpToolServer.READ_CUSTOMER + "\",\"arguments\":{\"id\":\"c-1\"}}}'");
    }

    private static String metricsUrl(Sidecar s) {
        return Demo.metricsUrl(s.adminAddress().orElseThrow());
    }

    /** Stops every component and deletes the work directory; runs once, from the command or the shutdown hook. */
    private void cleanUp() {
        if (!cleaned.compareAndSet(false, true)) {
            return;
        }
        Demo d = demo;
        if (d != null) {
            d.close();
        }
        Path dir = workDir;
        if (dir != null) {
            List<Path> left = Demo.deleteTree(dir);
            if (!left.isEmpty()) {
                System.err.println("demo: could not delete " + left);
            }
        }
    }

    /** The temporary directory of the last run (deleted by the time {@link #call()} returns). */
    public Path workDir() {
        return workDir;
    }

    /** Each step's outcome from the last run. */
    public List<StepResult> results() {
        return results;
    }
}
