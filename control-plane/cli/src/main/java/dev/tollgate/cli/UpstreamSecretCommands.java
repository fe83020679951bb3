package dev.tollgate.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.wire.UpstreamSecretRequest;
import dev.tollgate.api.wire.UpstreamSecretView;
import dev.tollgate.controlplane.governance.UpstreamSecrets;

/**
 * {@code ctl upstream-secret}: static credentials of legacy upstreams that sidecars inject, bound to an
 * {@code inject-credential} exception. The value is read from a file or from standard input, never from an argument
 * (arguments land in shell history and in {@code ps}); no command ever prints it.
 */
final class UpstreamSecretCommands {
    /** Longest value read, in bytes: the control plane's limit and a line break ({@code \r\n}). */
    static final int MAX_READ = UpstreamSecrets.MAX_VALUE_BYTES + 2;

    private UpstreamSecretCommands() {
    }

    @Command(name = "upstream-secret", mixinStandardHelpOptions = true,
            description = {"Secrets of legacy upstreams that a sidecar injects (header or basic auth) so that the "
                    + "agent never holds them. Each is bound to one workload, one upstream and an inject-credential "
                    + "exception; the value is write-only.",
                    "The value is read from --value-file FILE or from standard input (--value-stdin), never from an "
                            + "argument: an argument would land in your shell history and in `ps`."},
            subcommands = {Put.class, Rotate.class, ListCmd.class, Show.class, Delete.class})
    static final class UpstreamSecret extends TokenCommands.Group {
    }

    /** Where the value comes from: exactly one of a file or standard input. */
    static final class ValueSource {
        @Option(names = "--value-file", paramLabel = "FILE", required = true,
                description = "read the value from this file (one trailing line break is dropped); keep the file "
                        + "readable only by you, and remove it afterwards")
        Path file;
        @Option(names = "--value-stdin", required = true,
                description = "read the value from standard input (e.g. from a password manager's CLI)")
        boolean stdin;

        String read(InputStream in) {
            byte[] raw;
            try {
                if (file != null) {
                    try (InputStream f = Files.newInputStream(file)) {
                        raw = f.readNBytes(MAX_READ + 1);
                    }
                } else {
                    raw = in.readNBytes(MAX_READ + 1);
                }
            } catch (NoSuchFileException e) {
                throw new CtlException("--value-file " + file + ": no such file");
            } catch (IOException e) {
                throw new CtlException((file != null ? "--value-file " + file : "standard input") + ": cannot be read ("
                        + e.getMessage() + ")");
            }
            if (raw.length > MAX_READ) {
                throw new CtlException("the value is longer than " + UpstreamSecrets.MAX_VALUE_BYTES
                        + " bytes (expected: 1 to " + UpstreamSecrets.MAX_VALUE_BYTES + " bytes of visible ASCII)");
            }
            String v = new String(raw, StandardCharsets.US_ASCII);
            if (v.endsWith("\r\n")) {
                v = v.substring(0, v.length() - 2);
            } else if (v.endsWith("\n")) {
                v = v.substring(0, v.length() - 1);
            }
            if (v.isEmpty()) {
                throw new CtlException((file != null ? "--value-file " + file : "standard input")
                        + ": empty (expected: the secret's value)");
            }
            return v;
        }
    }

    @Command(name = "put", mixinStandardHelpOptions = true,
            description = {"Store a new upstream secret, bound to an inject-credential exception for exactly this "
                    + "workload and upstream (requested or active).",
                    "The value comes from --value-file or --value-stdin, never from an argument."})
    static final class Put extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "NAME", description = "lowercase letters, digits, . - _ (1 to 64); "
                + "the sidecar's upstreams.*.inject.secret names it")
        String name;
        @Option(names = "--workload", required = true, paramLabel = "SPIFFE_ID", description = "the workload whose sidecar injects it")
        String workload;
        @Option(names = "--upstream", required = true, paramLabel = "HOST:PORT", description = "the upstream it is injected into")
        String upstream;
        @Option(names = "--exception", required = true, paramLabel = "ID", description = "the inject-credential exception it is bound to")
        String exception;
        @Option(names = "--human-owner", required = true, description = "the person answerable for the secret")
        String humanOwner;
        @Option(names = "--service-owner", required = true, description = "the team or service that owns it")
        String serviceOwner;
        @Option(names = "--rotation-period", required = true, paramLabel = "DURATION",
                description = "how often it must be rotated, like 90d (1h to 3650d); older, the posture report flags it")
        String rotationPeriod;
        @ArgGroup(exclusive = true, multiplicity = "1")
        ValueSource value;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            UpstreamSecretView v = c.putUpstreamSecret(new UpstreamSecretRequest(name, CtlCommand.id(workload).toString(),
                    upstream, exception, value.read(System.in), humanOwner, serviceOwner, CtlCommand.seconds(rotationPeriod)));
            print(out, v, () -> out.println("stored upstream secret " + v.name() + " version " + v.version() + " for "
                    + v.workload() + " -> " + v.upstream() + " (exception " + v.exceptionId() + ")"));
        }
    }

    @Command(name = "rotate", mixinStandardHelpOptions = true,
            description = {"Give a secret a new value (version + 1); the sidecar picks it up without restart.",
                    "The value comes from --value-file or --value-stdin, never from an argument."})
    static final class Rotate extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
        @ArgGroup(exclusive = true, multiplicity = "1")
        ValueSource value;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            UpstreamSecretView v = c.rotateUpstreamSecret(name, value.read(System.in));
            print(out, v, () -> out.println("rotated upstream secret " + v.name() + " to version " + v.version()));
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List upstream secrets by name, with owners, rotation state and last use (never a value).")
    static final class ListCmd extends CtlCommand.Action {
        @Option(names = "--workload", paramLabel = "SPIFFE_ID", description = "only this workload's secrets")
        String workload;
        @Option(names = "--deleted", description = "include deleted secrets")
        boolean deleted;
        @Option(names = "--limit", defaultValue = "100", description = "most rows (1 to 1000); default: ${DEFAULT-VALUE}")
        int limit;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            List<UpstreamSecretView> vs = c.upstreamSecrets(workload == null ? null : CtlCommand.id(workload),
                    deleted, limit);
            print(out, vs, () -> table(out, vs));
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one upstream secret (never its value).")
    static final class Show extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            UpstreamSecretView v = c.upstreamSecret(name);
            print(out, v, () -> table(out, List.of(v)));
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Delete a secret: sidecars drop it; its name stays bound to its workload and upstream.")
    static final class Delete extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            UpstreamSecretView v = c.deleteUpstreamSecret(name);
            print(out, v, () -> out.println("deleted upstream secret " + v.name()));
        }
    }

    static void table(PrintWriter out, List<UpstreamSecretView> vs) {
        Table t = new Table("NAME", "WORKLOAD", "UPSTREAM", "EXCEPTION", "VERSION", "STATE", "ROTATED", "LAST USED",
                "USES", "HUMAN OWNER", "SERVICE OWNER");
        for (UpstreamSecretView v : vs) {
            t.row(v.name(), v.workload(), v.upstream(), v.exceptionId(), Integer.toString(v.version()), v.state(),
                    v.rotatedAt().toString(), v.lastUsedAt() == null ? "never" : v.lastUsedAt().toString(),
                    Long.toString(v.uses()), v.humanOwner(), v.serviceOwner());
        }
        t.print(out);
    }
}
