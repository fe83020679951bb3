package dev.tollgate.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.RevocationView;
import dev.tollgate.api.wire.SigningKeyView;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.TaskView;

/** {@code ctl task}, {@code ctl revoke}, {@code ctl revocation}, {@code ctl signing-key}. */
final class TokenCommands {
    private TokenCommands() {
    }

    /** A command that only groups subcommands: run alone, it prints its usage. */
    abstract static class Group implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    static void taskTable(PrintWriter out, List<TaskView> tasks) {
        Table t = new Table("ID", "AGENT", "STATE", "TOOLS", "EXPIRES", "CREATED BY", "INTENT");
        for (TaskView v : tasks) {
            t.row(v.id(), v.agent(), v.state(), String.join(",", v.scope().stream().map(ToolGrant::tool).toList()),
                    v.expiresAt().toString(), v.createdBy(), v.intent());
        }
        t.print(out);
    }

    @Command(name = "task", mixinStandardHelpOptions = true, description = "Create, list, show and complete tasks.",
            subcommands = {Task.Create.class, Task.ListCmd.class, Task.Show.class, Task.Complete.class})
    static final class Task extends Group {
        @Command(name = "create", mixinStandardHelpOptions = true,
                description = "Create a task for an agent and print its task token (shown once).")
        static final class Create extends CtlCommand.Action {
            @Parameters(index = "0", paramLabel = "AGENT", description = "spiffe://<trust-domain>/agent/<name>")
            String agent;
            @Option(names = "--tool", required = true, paramLabel = "NAME", description = "a tool the task may call (repeat for more)")
            List<String> tools = new ArrayList<>();
            @Option(names = "--intent", required = true, description = "what the task is for")
            String intent;
            @Option(names = "--ttl", paramLabel = "DURATION", description = "how long it may run, like 10m (default 15m; capped by the agent's max task TTL)")
            String ttl;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                TaskCreatedView t = c.createTask(new TaskSpec(CtlCommand.id(agent).toString(),
                        tools.stream().map(ToolGrant::of).toList(), intent, CtlCommand.seconds(ttl)));
                print(out, t, () -> {
                    out.println("task " + t.task().id() + " for " + t.task().agent() + " until " + t.task().expiresAt());
                    out.println("task token (jti " + t.tokenId() + "):");
                    out.println(t.token());
                });
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List tasks, newest first.")
        static final class ListCmd extends CtlCommand.Action {
            @Option(names = "--agent", paramLabel = "SPIFFE_ID", description = "only this agent's tasks")
            String agent;
            @Option(names = "--state", description = "active, completed or expired")
            String state;
            @Option(names = "--limit", defaultValue = "100", description = "most rows; default: ${DEFAULT-VALUE}")
            int limit;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<TaskView> tasks = c.tasks(agent == null ? null : CtlCommand.id(agent), state, limit);
                print(out, tasks, () -> taskTable(out, tasks));
            }
        }

        @Command(name = "show", mixinStandardHelpOptions = true,
                description = {"Show one task and its tokens: the task token and the tokens exchanged for it, with "
                        + "their state (never the tokens themselves).",
                        "With --output json only the task; its tokens: ctl inventory list --task ID --output json."})
        static final class Show extends CtlCommand.Action {
            @Parameters(index = "0", paramLabel = "TASK_ID")
            String id;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                TaskView t = c.task(id);
                print(out, t, () -> {
                    taskTable(out, List.of(t));
                    java.util.Map<String, String> f = new java.util.LinkedHashMap<>();
                    f.put("kind", "task_token,exchanged_token");
                    f.put("task", t.id());
                    f.put("limit", "1000");
                    var tokens = c.inventory(f);
                    out.println();
                    Table tt = new Table("TOKEN", "JTI", "STATE", "AUDIENCE", "ISSUED", "EXPIRES");
                    for (var a : tokens.assets()) {
                        tt.row(a.kind().equals("task_token") ? "task" : "exchanged", a.id(), a.state(),
                                String.valueOf(a.details().getOrDefault("audience", "-")), a.createdAt().toString(),
                                a.expiresAt() == null ? "-" : a.expiresAt().toString());
                    }
                    tt.print(out);
                    if (tokens.truncated()) {
                        out.println("(first 1000 tokens shown; the task has more)");
                    }
                });
            }
        }

        @Command(name = "complete", mixinStandardHelpOptions = true,
                description = "Complete a task: every credential of it is revoked.")
        static final class Complete extends CtlCommand.Action {
            @Parameters(index = "0", paramLabel = "TASK_ID")
            String id;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                TaskView t = c.completeTask(id);
                print(out, t, () -> out.println("completed " + t.id() + "; its credentials are revoked"));
            }
        }
    }

    static void revocationTable(PrintWriter out, List<RevocationView> rs) {
        Table t = new Table("TYPE", "VALUE", "AT", "EXPIRES", "ACTOR", "REASON");
        rs.forEach(r -> t.row(r.type(), r.value(), r.at().toString(), r.expiresAt().toString(), r.actor(), r.reason()));
        t.print(out);
    }

    /** One {@code ctl revoke <type>} subcommand. */
    abstract static class RevokeAction extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "VALUE")
        String value;
        @Option(names = "--reason", required = true, description = "why it is revoked (audited)")
        String reason;

        abstract String type();

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            RevocationView r = c.revoke(new RevocationRequest(type(), value, reason));
            print(out, r, () -> out.println("revoked " + r.type() + " " + r.value() + " (entry kept until "
                    + r.expiresAt() + ")"));
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = "Revoke a token, a task, a SPIFFE ID or a signing key (idempotent).",
            subcommands = {Revoke.Token.class, Revoke.TaskCmd.class, Revoke.SpiffeIdCmd.class, Revoke.SigningKey.class})
    static final class Revoke extends Group {
        @Command(name = "token", mixinStandardHelpOptions = true, description = "Revoke one token by its id (jti).")
        static final class Token extends RevokeAction {
            @Override
            String type() {
                return "token";
            }
        }

        @Command(name = "task", mixinStandardHelpOptions = true, description = "Revoke every credential of a task.")
        static final class TaskCmd extends RevokeAction {
            @Override
            String type() {
                return "task";
            }
        }

        @Command(name = "spiffe-id", mixinStandardHelpOptions = true,
                description = "Revoke an identity: its tokens are denied and its SVIDs are no longer renewed or issued.")
        static final class SpiffeIdCmd extends RevokeAction {
            @Override
            String type() {
                return "spiffe_id";
            }
        }

        @Command(name = "signing-key", mixinStandardHelpOptions = true,
                description = "Revoke a token signing key as compromised: unpublished at once, its tokens denied.")
        static final class SigningKey extends RevokeAction {
            @Override
            String type() {
                return "signing_key";
            }
        }
    }

    @Command(name = "revocation", mixinStandardHelpOptions = true, description = "Revocations in force.",
            subcommands = {Revocation.ListCmd.class})
    static final class Revocation extends Group {
        @Command(name = "list", mixinStandardHelpOptions = true, description = "List unexpired revocations, oldest first.")
        static final class ListCmd extends CtlCommand.Action {
            @Option(names = "--limit", defaultValue = "1000", description = "most rows; default: ${DEFAULT-VALUE}")
            int limit;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<RevocationView> rs = c.revocations(limit);
                print(out, rs, () -> revocationTable(out, rs));
            }
        }
    }

    @Command(name = "signing-key", mixinStandardHelpOptions = true, description = "Token signing keys.",
            subcommands = {SigningKey.ListCmd.class, SigningKey.Rotate.class, SigningKey.RevokeCmd.class})
    static final class SigningKey extends Group {
        static void table(PrintWriter out, List<SigningKeyView> keys) {
            Table t = new Table("KID", "ALG", "STATE", "PUBLISHED", "CREATED", "CHANGED");
            keys.forEach(k -> t.row(k.kid(), k.algorithm(), k.state(), Boolean.toString(k.published()),
                    k.createdAt().toString(), k.stateChangedAt().toString()));
            t.print(out);
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List signing keys.")
        static final class ListCmd extends CtlCommand.Action {
            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<SigningKeyView> keys = c.signingKeys();
                print(out, keys, () -> table(out, keys));
            }
        }

        @Command(name = "rotate", mixinStandardHelpOptions = true,
                description = "Make a new signing key active now (admin); the old one stays published until its tokens expire.")
        static final class Rotate extends CtlCommand.Action {
            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                SigningKeyView k = c.rotateSigningKey();
                print(out, k, () -> out.println("signing key " + k.kid() + " is now active"));
            }
        }

        @Command(name = "revoke", mixinStandardHelpOptions = true,
                description = "Revoke a signing key as compromised (same as 'ctl revoke signing-key').")
        static final class RevokeCmd extends RevokeAction {
            @Override
            String type() {
                return "signing_key";
            }
        }
    }
}
