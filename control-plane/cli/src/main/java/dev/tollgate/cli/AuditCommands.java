package dev.tollgate.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

import com.fasterxml.jackson.core.JsonProcessingException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.api.AuditCheckpoints;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.CheckpointKeyView;
import dev.tollgate.api.wire.Json;

/** {@code ctl audit checkpoint ...} and {@code ctl audit checkpoint-key ...}: signed checkpoints of the audit chain. */
final class AuditCommands {
    /** Largest checkpoint file read. */
    static final long MAX_CHECKPOINT_FILE_BYTES = 64 << 10;

    private AuditCommands() {
    }

    /**
     * Reads a checkpoint file an auditor kept and checks its signature with the public key it carries.
     *
     * @throws CtlException when it cannot be read, is not a checkpoint or its signature does not verify
     */
    static AuditCheckpointView readKept(Path file) {
        AuditCheckpointView c;
        try {
            if (Files.size(file) > MAX_CHECKPOINT_FILE_BYTES) {
                throw new CtlException(file + ": larger than " + MAX_CHECKPOINT_FILE_BYTES + " bytes (expected: a "
                        + "checkpoint written by 'ctl audit checkpoint export')");
            }
            c = Json.mapper().readValue(Files.readString(file), AuditCheckpointView.class);
        } catch (JsonProcessingException e) {
            throw new CtlException(file + ": not a checkpoint (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new CtlException(file + ": cannot be read (" + e.getMessage() + ")");
        }
        try {
            AuditCheckpoints.verify(c, AuditCheckpoints.publicKey(c.publicKey()));
        } catch (IllegalArgumentException e) {
            throw new CtlException(file + ": " + e.getMessage() + " (the file was altered, or is not a checkpoint)");
        }
        return c;
    }

    static void table(PrintWriter out, List<AuditCheckpointView> cs) {
        Table t = new Table("SEQ", "AT", "HEAD HASH", "KEY");
        cs.forEach(c -> t.row(Long.toString(c.seq()), c.at().toString(), c.headHash(), c.keyId().substring(0, 16)));
        t.print(out);
    }

    @Command(name = "checkpoint", mixinStandardHelpOptions = true,
            description = "Signed checkpoints of the audit chain head: list, sign one now, export the latest for an "
                    + "auditor to keep.",
            subcommands = {Checkpoint.ListCmd.class, Checkpoint.Create.class, Checkpoint.Export.class})
    static final class Checkpoint extends TokenCommands.Group {
        @Command(name = "list", mixinStandardHelpOptions = true, description = "List signed checkpoints, oldest first.")
        static final class ListCmd extends CtlCommand.Action {
            @Option(names = "--after", defaultValue = "0", description = "only checkpoints after this sequence number; default: ${DEFAULT-VALUE}")
            long after;
            @Option(names = "--limit", defaultValue = "100", description = "most rows; default: ${DEFAULT-VALUE}")
            int limit;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<AuditCheckpointView> cs = c.auditCheckpoints(after, limit);
                print(out, cs, () -> table(out, cs));
            }
        }

        @Command(name = "create", mixinStandardHelpOptions = true,
                description = "Sign a checkpoint of the chain head now (operator); the request itself is audited and covered.")
        static final class Create extends CtlCommand.Action {
            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                AuditCheckpointView cp = c.checkpointAudit();
                print(out, cp, () -> out.println("signed checkpoint at seq " + cp.seq() + " (head " + cp.headHash()
                        + ", key " + cp.keyId() + ")"));
            }
        }

        @Command(name = "export", mixinStandardHelpOptions = true,
                description = "Write the latest signed checkpoint, with its public key, to a file to keep outside the "
                        + "control plane; later 'ctl audit verify --against FILE' proves the chain still extends it.")
        static final class Export extends CtlCommand.Action {
            @Option(names = "--out", required = true, paramLabel = "FILE", description = "the file to write (replaced)")
            Path file;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) throws IOException {
                AuditCheckpointView cp = c.latestAuditCheckpoint();
                try {
                    AuditCheckpoints.verify(cp, AuditCheckpoints.publicKey(cp.publicKey()));
                } catch (IllegalArgumentException e) {
                    throw new CtlException("the control plane's latest checkpoint does not verify: " + e.getMessage());
                }
                // a new file of our own beside the target (never a name someone could have planted a link at), then
                // renamed over it
                Path dir = file.toAbsolutePath().getParent();
                Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
                try {
                    Files.writeString(tmp, Json.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(cp) + "\n");
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
                print(out, cp, () -> out.println("wrote checkpoint seq " + cp.seq() + " (head " + cp.headHash()
                        + ", key " + cp.keyId() + ") to " + file + "; keep it where the control plane's database "
                        + "writers cannot reach it"));
            }
        }
    }

    @Command(name = "checkpoint-key", mixinStandardHelpOptions = true, description = "Keys that sign audit checkpoints.",
            subcommands = {CheckpointKey.ListCmd.class, CheckpointKey.Rotate.class})
    static final class CheckpointKey extends TokenCommands.Group {
        @Command(name = "list", mixinStandardHelpOptions = true, description = "List checkpoint keys, the active one first.")
        static final class ListCmd extends CtlCommand.Action {
            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<CheckpointKeyView> keys = c.checkpointKeys();
                print(out, keys, () -> {
                    Table t = new Table("KEY ID", "ALG", "STATE", "CREATED", "CHANGED");
                    keys.forEach(k -> t.row(k.keyId(), k.algorithm(), k.state(), k.createdAt().toString(),
                            k.stateChangedAt().toString()));
                    t.print(out);
                });
            }
        }

        @Command(name = "rotate", mixinStandardHelpOptions = true,
                description = "Make a new checkpoint key active now (admin); the old one still verifies its checkpoints.")
        static final class Rotate extends CtlCommand.Action {
            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                CheckpointKeyView k = c.rotateCheckpointKey();
                print(out, k, () -> out.println("checkpoint key " + k.keyId() + " is now active"));
            }
        }
    }
}
