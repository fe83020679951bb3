package dev.tollgate.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.wire.PolicyActivationView;
import dev.tollgate.api.wire.PolicyDiffView;
import dev.tollgate.api.wire.PolicyValidationView;
import dev.tollgate.api.wire.PolicyView;

/**
 * {@code ctl policy}: validate, diff, upload and read the policy the control plane distributes to sidecars;
 * {@code ctl policy test} ({@link PolicyTestCommand}) runs a policy locally.
 */
final class PolicyCommands {
    /** Largest policy file read (the control plane accepts at most 256 KiB). */
    static final long MAX_FILE_BYTES = 256 * 1024;

    private PolicyCommands() {
    }

    @Command(name = "policy", mixinStandardHelpOptions = true,
            description = "Validate, test, diff, upload and show the policy sidecars enforce.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:done (validate: the document is valid; test: the replay ran)",
                    "1:validate: the document is invalid; the control plane refused or could not be reached",
                    "2:bad usage or an unreadable file (test: a bad policy or a bad line)"},
            subcommands = {Validate.class, PolicyTestCommand.class, Diff.class, Upload.class, Show.class,
                    Versions.class})
    static final class Policy extends TokenCommands.Group {
    }

    /** Reads a policy file as UTF-8, bounded. */
    static String read(Path file) {
        try {
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) {
                throw new CtlException(file + ": " + size + " bytes (expected: <= " + MAX_FILE_BYTES + ")");
            }
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (NoSuchFileException e) {
            throw new CtlException(file + ": no such file");
        } catch (CharacterCodingException e) {
            throw new CtlException(file + ": not UTF-8 text");
        } catch (IOException e) {
            throw new CtlException(file + ": cannot be read (" + e.getMessage() + ")");
        }
    }

    /** A command that sends a policy file. */
    abstract static class FileAction extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "FILE", description = "the policy document (YAML)")
        Path file;

        String document() {
            return read(file);
        }
    }

    static void versionTable(PrintWriter out, List<PolicyView> vs) {
        Table t = new Table("ID", "VERSION", "CURRENT", "DIGEST", "UPLOADED BY", "UPLOADED", "ACTIVATED");
        vs.forEach(v -> t.row(Long.toString(v.id()), v.version(), v.current() ? "yes" : "", v.digest(),
                v.uploadedBy(), v.uploadedAt().toString(), v.activatedAt().toString()));
        t.print(out);
    }

    @Command(name = "validate", mixinStandardHelpOptions = true,
            description = "Check a policy file with the control plane's compiler; nothing is stored. Exit 1 when it "
                    + "is invalid, listing every problem.")
    static final class Validate extends FileAction {
        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            PolicyValidationView v = c.validatePolicy(document());
            exitCode = v.valid() ? 0 : 1;
            print(out, v, () -> {
                if (v.valid()) {
                    out.println("valid: policy " + v.version() + " (" + v.digest() + ")");
                } else {
                    out.println("invalid: " + file + " has " + v.problems().size()
                            + (v.problems().size() == 1 ? " problem" : " problems"));
                    v.problems().forEach(p -> out.println("  - " + p));
                }
            });
        }
    }

    @Command(name = "diff", mixinStandardHelpOptions = true,
            description = "Show what would change if the file became the current policy.")
    static final class Diff extends FileAction {
        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            PolicyDiffView d = c.diffPolicy(document());
            print(out, d, () -> {
                out.println("current: " + (d.fromVersion() == null ? "(none)"
                        : d.fromVersion() + " (" + d.fromDigest() + ")"));
                out.println(file + ": " + d.toVersion() + " (" + d.toDigest() + ")");
                if (d.lines().isEmpty()) {
                    out.println("no changes: the file is the current policy");
                } else {
                    d.lines().forEach(out::println);
                }
            });
        }
    }

    @Command(name = "upload", mixinStandardHelpOptions = true,
            description = "Upload a policy file and make it the current policy; sidecars that take their policy from "
                    + "the control plane apply it within seconds. Uploading the current policy again changes nothing; "
                    + "uploading an earlier version makes it current again.")
    static final class Upload extends FileAction {
        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            PolicyActivationView a = c.uploadPolicy(document());
            PolicyView p = a.policy();
            print(out, a, () -> {
                if (!a.changed()) {
                    out.println("unchanged: policy " + p.version() + " (" + p.digest() + ") is already current");
                } else {
                    out.println("policy " + p.version() + " (" + p.digest() + ") is now current"
                            + (a.previousVersion() == null ? "" : "; was " + a.previousVersion() + " ("
                            + a.previousDigest() + ")"));
                }
            });
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show the current policy and its text.")
    static final class Show extends CtlCommand.Action {
        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            PolicyView p = c.currentPolicy();
            print(out, p, () -> {
                out.println("# policy " + p.version() + " (" + p.digest() + "), uploaded by " + p.uploadedBy()
                        + " at " + p.uploadedAt() + ", current since " + p.activatedAt());
                out.print(p.yaml().endsWith("\n") ? p.yaml() : p.yaml() + "\n");
            });
        }
    }

    @Command(name = "versions", mixinStandardHelpOptions = true, description = "List stored policy versions, newest first.")
    static final class Versions extends CtlCommand.Action {
        @Option(names = "--limit", defaultValue = "100", description = "most rows; default: ${DEFAULT-VALUE}")
        int limit;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            List<PolicyView> vs = c.policyVersions(limit);
            print(out, vs, () -> versionTable(out, vs));
        }
    }
}
