package dev.tollgate.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.core.JsonProcessingException;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.AuditFilter;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.client.Failures;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.CaRotationView;
import dev.tollgate.api.wire.CaStatusView;
import dev.tollgate.api.wire.JoinTokenInfoView;
import dev.tollgate.api.wire.JoinTokenView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.OperatorCredentialView;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.SvidView;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.api.wire.WorkloadView;
import dev.tollgate.controlplane.config.Durations;

/** {@code ./tollgate ctl}: the operator CLI over the control plane's API. */
@Command(name = "ctl", mixinStandardHelpOptions = true,
        description = "Operate a control plane: workloads, join tokens, certificates, the CA, tasks, revocations, "
                + "signing keys, the audit trail, policies, the inventory, the posture report and exceptions.",
        subcommands = {CtlCommand.Workload.class, CtlCommand.JoinToken.class, CtlCommand.Bundle.class,
                CtlCommand.Svid.class, CtlCommand.Ca.class, CtlCommand.Operator.class, CtlCommand.Audit.class,
                TokenCommands.Task.class, TokenCommands.Revoke.class, TokenCommands.Revocation.class,
                TokenCommands.SigningKey.class, PolicyCommands.Policy.class, InventoryCommands.Inventory.class, PostureCommand.class,
                ExceptionCommands.Exception.class,
                UpstreamSecretCommands.UpstreamSecret.class,
                CommandLine.HelpCommand.class})
public final class CtlCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The connection and output options, accepted on ctl itself as well as on each subcommand. */
    @Mixin
    CtlOptions opts;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Runs an action against the API and turns every failure into a message and an exit code. */
    abstract static class Action implements Callable<Integer> {
        @Mixin
        CtlOptions opts;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        /** The exit code of a run that did not throw; a command may set it (e.g. 1 for an invalid document). */
        int exitCode;

        abstract void run(ControlPlaneClient client, PrintWriter out) throws Exception;

        @Override
        public Integer call() {
            CommandLine.Model.CommandSpec s = spec;
            while (s != null && !(s.userObject() instanceof CtlCommand)) {
                s = s.parent();
            }
            if (s != null) {
                opts = opts.orElse(((CtlCommand) s.userObject()).opts);
            }
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            ControlPlaneClient client = null;
            try {
                client = opts.client();
                run(client, out);
                out.flush();
                return exitCode;
            } catch (ControlPlaneException e) {
                // the detail can quote what someone sent the control plane: shown so that it cannot drive the terminal
                err.println("error: " + Table.printable(e.problem().title() + ": " + e.problem().detail(), false)
                        + " (reason: " + Table.printable(e.reason(), false) + ")");
                if (e.problem().problems() != null) {
                    e.problem().problems().forEach(p -> err.println("  - " + Table.printable(p, false)));
                }
                String hint = hint(e.reason());
                if (hint != null) {
                    err.println("hint: " + hint);
                }
                return 1;
            } catch (CtlException | IllegalArgumentException e) {
                err.println("error: " + e.getMessage());
                return 2;
            } catch (UncheckedIOException e) {
                String where = client != null ? " at " + client.base() : "";
                err.println("error: cannot reach the control plane" + where + ": "
                        + Failures.describe(e.getCause() != null ? e.getCause() : e));
                err.println("hint: is it running (./tollgate control-plane)? Is --server right? A control plane "
                        + "started with --data-dir DIR: pass the same --data-dir to ctl");
                return 1;
            } catch (Exception e) {
                err.println("error: " + Failures.describe(e));
                return 1;
            }
        }

        void print(PrintWriter out, Object value, Runnable table) {
            if (opts.output == CtlOptions.Output.JSON) {
                try {
                    out.println(Json.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(value));
                } catch (JsonProcessingException e) {
                    throw new IllegalStateException(e);
                }
            } else {
                table.run();
            }
        }
    }

    /**
     * What to try after the control plane refused a request, chosen by the problem's reason (the status alone says
     * too little: a 404 may be a task, a token or a policy as well as a workload); null when the message says all.
     */
    static String hint(String reason) {
        if (reason == null) {
            return null;
        }
        if (reason.startsWith("bad_csr:")) {
            return null;
        }
        return switch (reason) {
            case "no_client_certificate" -> "ctl found no operator certificate: pass --credential-dir (or --cert and --key), "
                    + "or the --data-dir the control plane was started with";
            case "untrusted_client_certificate", "svid_expired" -> "the control plane did not accept your certificate: it may "
                    + "have expired or come from another control plane; check --credential-dir or --cert/--key "
                    + "(restarting a local control plane renews the bootstrap credential)";
            case "identity_revoked" -> "that SPIFFE ID is revoked (see './tollgate ctl revocation list'); an operator whose "
                    + "credential was revoked needs a new one, under another name, from an admin";
            case "insufficient_role", "no_role", "not_an_operator" -> "your certificate's role may not do this; ask an admin "
                    + "for a credential with a higher role ('./tollgate ctl operator issue')";
            case "not_a_workload" -> "this route is for workloads (sidecars) presenting their SVID, not for operators";
            case "workload_not_found", "workload_not_registered" -> "check the SPIFFE ID with './tollgate ctl workload list'";
            case "task_not_found", "task_not_active", "not_own_task" -> "check the task with './tollgate ctl task list'";
            case "token_not_found" -> "a token is named by its jti (the jti claim of the task token), not by the token itself";
            case "signing_key_not_found" -> "check the kid with './tollgate ctl signing-key list'";
            case "operator_not_found" -> "check the name with './tollgate ctl operator list'";
            case "tool_not_registered" -> "a task may only name tools of the agent's registration; see "
                    + "'./tollgate ctl workload show SPIFFE_ID'";
            case "workload_exists" -> "change it with './tollgate ctl workload update' instead";
            case "revocation_state_unknown", "overloaded" -> "the control plane cannot serve this now (see its log); retry";
            case "join_token_used", "join_token_expired", "join_token_invalid" -> "create a new one with "
                    + "'./tollgate ctl join-token create SPIFFE_ID'";
            case "exception_not_found" -> "check the id with './tollgate ctl exception list'";
            case "exception_scope_mismatch", "exception_revoked", "exception_expired" ->
                    "an upstream secret needs an inject-credential exception for exactly its workload and upstream: "
                            + "see './tollgate ctl exception list', or request one with './tollgate ctl exception request'";
            case "upstream_secret_not_found" -> "check the name with './tollgate ctl upstream-secret list'";
            case "upstream_secret_exists" -> "change its value with './tollgate ctl upstream-secret rotate NAME "
                    + "--value-file FILE'";
            default -> null;
        };
    }

    static SpiffeId id(String s) {
        try {
            return SpiffeId.parse(s);
        } catch (InvalidSpiffeIdException e) {
            throw new CtlException("'" + s + "' is not a SPIFFE ID: " + e.getMessage()
                    + " (expected like spiffe://tollgate.local/agent/research-bot)");
        }
    }

    static Long seconds(String duration) {
        return duration == null ? null : Durations.parse(duration).toSeconds();
    }

    static void workloadTable(PrintWriter out, List<WorkloadView> ws) {
        Table t = new Table("SPIFFE ID", "HUMAN OWNER", "SERVICE OWNER", "TOOLS", "MAX SVID", "MAX TASK",
                "K8S (CLUSTER/NAMESPACE/SERVICE ACCOUNT)", "PURPOSE");
        for (WorkloadView w : ws) {
            t.row(w.spiffeId(), w.humanOwner(), w.serviceOwner(), String.join(",", w.tools()),
                    Durations.format(java.time.Duration.ofSeconds(w.maxSvidTtlSeconds())),
                    Durations.format(java.time.Duration.ofSeconds(w.maxTaskTtlSeconds())),
                    w.k8sSelectors().isEmpty() ? "-"
                            : String.join(",", w.k8sSelectors().stream().map(Object::toString).toList()),
                    w.purpose());
        }
        t.print(out);
    }

    @Command(name = "workload", mixinStandardHelpOptions = true, description = "Register, list, show, update and delete workloads.",
            subcommands = {Workload.Register.class, Workload.ListCmd.class, Workload.Show.class, Workload.Update.class,
                    Workload.Delete.class})
    static final class Workload implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }

        /** The Kubernetes selector options of register and update. */
        static class K8sOptions {
            @Option(names = "--k8s-namespace", paramLabel = "NS",
                    description = "Kubernetes: pods in this namespace (with --k8s-service-account) attest as this workload with their service-account token")
            String k8sNamespace;
            @Option(names = "--k8s-service-account", paramLabel = "SA",
                    description = "Kubernetes: the service account those pods run as")
            String k8sServiceAccount;
            @Option(names = "--k8s-cluster", paramLabel = "NAME",
                    description = "Kubernetes: only in this cluster of the control plane's k8s-attestation.clusters (default: every cluster)")
            String k8sCluster;
            @Option(names = "--k8s-pod-label", paramLabel = "KEY=VALUE", hidden = true,
                    description = "not supported: pod labels are not attested (see docs/attestation.md)")
            List<String> k8sPodLabels = new ArrayList<>();
            @Option(names = "--no-k8s", description = "update: remove the workload's Kubernetes selectors (without any --k8s-* option they are kept)")
            boolean noK8s;

            /** The selector the options give; null (keep, on update) when there are none. */
            List<dev.tollgate.api.wire.K8sSelector> k8sSelectors() {
                if (!k8sPodLabels.isEmpty()) {
                    throw new CtlException("--k8s-pod-label: pod labels cannot be selectors: neither the pod's "
                            + "service-account token nor a TokenReview carries them, so the control plane cannot "
                            + "attest them. Give the pods of each identity their own service account and select it "
                            + "with --k8s-service-account (docs/attestation.md)");
                }
                boolean any = k8sNamespace != null || k8sServiceAccount != null || k8sCluster != null;
                if (noK8s) {
                    if (any) {
                        throw new CtlException("--no-k8s: given together with --k8s-* options (expected: one or the other)");
                    }
                    return List.of();
                }
                if (!any) {
                    return null;
                }
                if (k8sNamespace == null || k8sServiceAccount == null) {
                    throw new CtlException("--k8s-namespace and --k8s-service-account: give both (a pod attests by "
                            + "its namespace and service account)");
                }
                return List.of(new dev.tollgate.api.wire.K8sSelector(k8sCluster, k8sNamespace, k8sServiceAccount));
            }

            boolean any() {
                return noK8s || !k8sPodLabels.isEmpty() || k8sNamespace != null || k8sServiceAccount != null
                        || k8sCluster != null;
            }
        }

        static class SpecOptions {
            @Option(names = "--human-owner", required = true, description = "the person accountable for the workload")
            String humanOwner;
            @Option(names = "--service-owner", required = true, description = "the team or service that runs it")
            String serviceOwner;
            @Option(names = "--purpose", required = true, description = "why it exists")
            String purpose;
            @Option(names = "--tool", paramLabel = "NAME", description = "a tool it may ever be given (repeat for more)")
            List<String> tools = new ArrayList<>();
            @Option(names = "--max-svid-ttl", paramLabel = "DURATION", description = "longest SVID it may hold, like 1h (default: the control plane's svid.max-ttl)")
            String maxSvidTtl;
            @Option(names = "--max-task-ttl", paramLabel = "DURATION", description = "longest task it may run, like 15m (default: 15m)")
            String maxTaskTtl;
            @Mixin
            K8sOptions k8s = new K8sOptions();

            WorkloadSpec spec(String id) {
                return new WorkloadSpec(id, humanOwner, serviceOwner, purpose, tools, seconds(maxSvidTtl),
                        seconds(maxTaskTtl), k8s.k8sSelectors());
            }

        }

        @Command(name = "register", mixinStandardHelpOptions = true, description = "Register a workload.")
        static final class Register extends Action {
            @Parameters(index = "0", paramLabel = "SPIFFE_ID", description = "spiffe://<trust-domain>/agent/<name> or /tool/<name>")
            String id;
            @Mixin
            SpecOptions specOptions;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                WorkloadView w = c.registerWorkload(specOptions.spec(id(id).toString()));
                print(out, w, () -> out.println("registered " + w.spiffeId()));
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List workloads.")
        static final class ListCmd extends Action {
            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<WorkloadView> ws = c.workloads();
                print(out, ws, () -> workloadTable(out, ws));
            }
        }

        @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one workload.")
        static final class Show extends Action {
            @Parameters(index = "0", paramLabel = "SPIFFE_ID")
            String id;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                WorkloadView w = c.workload(id(id));
                print(out, w, () -> workloadTable(out, List.of(w)));
            }
        }

        @Command(name = "update", mixinStandardHelpOptions = true,
                description = "Change a workload's registration: only the fields given change (its Kubernetes "
                        + "selectors are kept unless --k8s-* or --no-k8s is given).")
        static final class Update extends Action {
            @Parameters(index = "0", paramLabel = "SPIFFE_ID")
            String id;
            @Option(names = "--human-owner", description = "the person accountable for the workload")
            String humanOwner;
            @Option(names = "--service-owner", description = "the team or service that runs it")
            String serviceOwner;
            @Option(names = "--purpose", description = "why it exists")
            String purpose;
            @Option(names = "--tool", paramLabel = "NAME", description = "replaces the tools it may ever be given with those named (repeat for more)")
            List<String> tools;
            @Option(names = "--no-tools", description = "removes every tool")
            boolean noTools;
            @Option(names = "--max-svid-ttl", paramLabel = "DURATION", description = "longest SVID it may hold, like 1h")
            String maxSvidTtl;
            @Option(names = "--max-task-ttl", paramLabel = "DURATION", description = "longest task it may run, like 15m")
            String maxTaskTtl;
            @Mixin
            K8sOptions k8s = new K8sOptions();

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                SpiffeId sid = id(id);
                if (noTools && tools != null) {
                    throw new CtlException("--tool and --no-tools: give one of them");
                }
                if (humanOwner == null && serviceOwner == null && purpose == null && tools == null && !noTools
                        && maxSvidTtl == null && maxTaskTtl == null && !k8s.any()) {
                    throw new CtlException("nothing to update: give at least one of --human-owner, --service-owner, "
                            + "--purpose, --tool, --no-tools, --max-svid-ttl, --max-task-ttl, --k8s-*, --no-k8s");
                }
                WorkloadView w = c.updateWorkload(sid, new WorkloadSpec(sid.toString(), humanOwner, serviceOwner,
                        purpose, noTools ? List.of() : tools, seconds(maxSvidTtl), seconds(maxTaskTtl),
                        k8s.k8sSelectors()));
                print(out, w, () -> out.println("updated " + w.spiffeId()));
            }
        }

        @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a workload (its certificates stay in the inventory).")
        static final class Delete extends Action {
            @Parameters(index = "0", paramLabel = "SPIFFE_ID")
            String id;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                c.deleteWorkload(id(id));
                print(out, java.util.Map.of("deleted", id), () -> out.println("deleted " + id));
            }
        }
    }

    @Command(name = "join-token", mixinStandardHelpOptions = true, description = "One-time join tokens.",
            subcommands = {JoinToken.Create.class, JoinToken.ListCmd.class, JoinToken.Revoke.class})
    static final class JoinToken implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }

        @Command(name = "create", mixinStandardHelpOptions = true,
                description = "Create a one-time join token for a registered workload; it is shown only once.")
        static final class Create extends Action {
            @Parameters(index = "0", paramLabel = "SPIFFE_ID")
            String id;
            @Option(names = "--ttl", paramLabel = "DURATION", description = "token lifetime, like 10m (default: the control plane's join-token.ttl)")
            String ttl;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                JoinTokenView t = c.createJoinToken(id(id), seconds(ttl));
                print(out, t, () -> {
                    out.println(t.token());
                    spec.commandLine().getErr().println("join token for " + t.spiffeId() + ", single use, expires " + t.expiresAt());
                });
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true,
                description = "List join tokens, newest first, with what became of them (never the tokens).")
        static final class ListCmd extends Action {
            @Option(names = "--workload", paramLabel = "SPIFFE_ID", description = "only this workload's tokens")
            String workload;
            @Option(names = "--limit", defaultValue = "100", description = "most rows; default: ${DEFAULT-VALUE}")
            int limit;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<JoinTokenInfoView> ts = c.joinTokens(workload == null ? null : id(workload), limit);
                print(out, ts, () -> {
                    Table t = new Table("ID", "WORKLOAD", "STATE", "CREATED", "BY", "EXPIRES");
                    for (JoinTokenInfoView j : ts) {
                        t.row(j.id(), j.workload(), j.state(), j.createdAt().toString(), j.createdBy(),
                                j.expiresAt().toString());
                    }
                    t.print(out);
                });
            }
        }

        @Command(name = "revoke", mixinStandardHelpOptions = true,
                description = "Revoke an outstanding join token by its id (from `ctl join-token list`).")
        static final class Revoke extends Action {
            @Parameters(index = "0", paramLabel = "ID")
            String id;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                JoinTokenInfoView j = c.revokeJoinToken(id);
                print(out, j, () -> out.println("revoked join token " + j.id() + " of " + j.workload()));
            }
        }
    }

    @Command(name = "bundle", mixinStandardHelpOptions = true, description = "The trust bundle.",
            subcommands = {Bundle.Show.class})
    static final class Bundle implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }

        @Command(name = "show", mixinStandardHelpOptions = true, description = "Print the trust bundle (PEM, or the SPIFFE bundle with --spiffe).")
        static final class Show extends Action {
            @Option(names = "--spiffe", description = "print the SPIFFE bundle (JWKS) instead of PEM")
            boolean spiffe;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                out.print(spiffe || opts.output == CtlOptions.Output.JSON ? c.spiffeBundleJson() + "\n" : c.bundlePem());
            }
        }
    }

    @Command(name = "svid", mixinStandardHelpOptions = true, description = "Issued certificates (the inventory's seed).",
            subcommands = {Svid.ListCmd.class})
    static final class Svid implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List issued certificates, newest first.")
        static final class ListCmd extends Action {
            @Option(names = "--id", paramLabel = "SPIFFE_ID", description = "only this identity's certificates")
            String id;
            @Option(names = "--limit", defaultValue = "50", description = "most rows; default: ${DEFAULT-VALUE}")
            int limit;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<SvidView> svids = c.svids(id == null ? null : id(id), limit);
                print(out, svids, () -> {
                    Table t = new Table("SERIAL", "SPIFFE ID", "KIND", "KEY", "NOT AFTER", "HUMAN OWNER", "SERVICE OWNER",
                            "FINGERPRINT");
                    for (SvidView s : svids) {
                        t.row(s.serial(), s.spiffeId(), s.kind(), s.keyAlgorithm() + "-" + s.keyBits(),
                                s.notAfter().toString(), s.humanOwner() == null ? "-" : s.humanOwner(),
                                s.serviceOwner() == null ? "-" : s.serviceOwner(),
                                s.publicKeyFingerprint().substring(0, 16) + "…");
                    }
                    t.print(out);
                });
            }
        }
    }

    @Command(name = "ca", mixinStandardHelpOptions = true, description = "The certificate authority.",
            subcommands = {Ca.Status.class, Ca.Rotate.class})
    static final class Ca implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }

        @Command(name = "status", mixinStandardHelpOptions = true, description = "Show CA slots (prepared / active / old) and the bundle sequence.")
        static final class Status extends Action {
            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                CaStatusView s = c.caStatus();
                print(out, s, () -> {
                    out.println("trust domain " + s.trustDomain() + ", bundle sequence " + s.bundleSequence());
                    Table t = new Table("STATE", "CA ID", "NOT BEFORE", "NOT AFTER", "SOURCE");
                    s.slots().forEach(x -> t.row(x.state(), x.id().substring(0, Math.min(16, x.id().length())),
                            x.notBefore().toString(), x.notAfter().toString(), x.source()));
                    t.print(out);
                });
            }
        }

        @Command(name = "rotate", mixinStandardHelpOptions = true,
                description = "Force a CA rotation (admin): the next CA is published in the bundle now and signs after the activation delay.")
        static final class Rotate extends Action {
            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                CaRotationView r = c.rotateCa();
                print(out, r, () -> out.println("prepared CA " + r.preparedCaId() + " (bundle sequence "
                        + r.bundleSequence() + "); it signs from " + r.activatesAt()));
            }
        }
    }

    @Command(name = "operator", mixinStandardHelpOptions = true, description = "Operator credentials.",
            subcommands = {Operator.Issue.class, Operator.ListCmd.class, Operator.Revoke.class})
    static final class Operator implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }

        @Command(name = "issue", mixinStandardHelpOptions = true,
                description = "Issue an operator credential (admin). The key is made here and never sent.")
        static final class Issue extends Action {
            @Option(names = "--name", required = true, description = "operator name: spiffe://<td>/operator/<name>")
            String name;
            @Option(names = "--role", required = true, description = "viewer, operator or admin")
            String role;
            @Option(names = "--person", required = true, paramLabel = "WHO",
                    description = "the person it is issued to, like alice@example.com (kept in the operator inventory)")
            String person;
            @Option(names = "--ttl", paramLabel = "DURATION", description = "lifetime, like 8h (default and maximum: the control plane's operators.max-ttl; more is refused)")
            String ttl;
            @Option(names = "--out", required = true, paramLabel = "DIR",
                    description = "directory to write admin.crt, admin.key (mode 0600), bundle.pem, api-url and server-id into (usable as --credential-dir)")
            Path outDir;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) throws IOException {
                KeyPair kp = Csrs.newP256();
                SvidResponse r = c.issueOperatorCredential(new OperatorCredentialRequest(name, role, person, Csrs.csrPem(kp), seconds(ttl)));
                Files.createDirectories(outDir);
                Path keyFile = outDir.resolve(CtlOptions.KEY_FILE);
                Files.deleteIfExists(keyFile);
                Files.createFile(keyFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(keyFile, Pem.encodePrivateKey(kp.getPrivate()));
                Files.writeString(outDir.resolve(CtlOptions.CERT_FILE), r.chainPem());
                Files.writeString(outDir.resolve(CtlOptions.BUNDLE_FILE), r.bundlePem());
                Files.writeString(outDir.resolve(CtlOptions.API_URL_FILE), c.base().toString());
                Path dir = opts.credentialDir();
                String serverId = opts.serverId != null ? opts.serverId
                        : CtlOptions.read(dir.resolve(CtlOptions.SERVER_ID_FILE), "--server-id").trim();
                Files.writeString(outDir.resolve(CtlOptions.SERVER_ID_FILE), serverId);
                print(out, r, () -> out.println("issued " + r.spiffeId() + " (" + role + ") to " + person
                        + ", valid until " + r.notAfter() + "; use it with --credential-dir " + outDir));
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true,
                description = "List issued operator certificates, newest first: role, person, issuer, state.")
        static final class ListCmd extends Action {
            @Option(names = "--limit", defaultValue = "100", description = "most rows; default: ${DEFAULT-VALUE}")
            int limit;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                List<OperatorCredentialView> ops = c.operators(limit);
                print(out, ops, () -> {
                    Table t = new Table("NAME", "ROLE", "PERSON", "STATE", "SERIAL", "ISSUED", "NOT AFTER", "ISSUED BY");
                    ops.forEach(o -> t.row(o.name(), o.role(), o.person(), o.state(), o.serial(),
                            o.issuedAt().toString(), o.notAfter().toString(), o.issuedBy()));
                    t.print(out);
                });
            }
        }

        @Command(name = "revoke", mixinStandardHelpOptions = true,
                description = "Revoke an operator (admin): its SPIFFE ID is revoked, so every certificate it holds is "
                        + "refused at once on every route; audited.")
        static final class Revoke extends Action {
            @Parameters(index = "0", paramLabel = "NAME", description = "the operator's name (spiffe://<td>/operator/<name>)")
            String name;
            @Option(names = "--reason", required = true, description = "why, for the audit trail")
            String reason;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                var r = c.revokeOperator(name, reason);
                print(out, r, () -> out.println("revoked " + r.value() + " (every certificate it holds is refused "
                        + "from now on; the revocation lasts until " + r.expiresAt() + ")"));
            }
        }
    }

    @Command(name = "audit", mixinStandardHelpOptions = true, description = "The tamper-evident audit trail.",
            subcommands = {Audit.ListCmd.class, Audit.Verify.class, AuditCommands.Checkpoint.class,
                    AuditCommands.CheckpointKey.class})
    static final class Audit implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List audit events, oldest first, "
                + "filtered by the control plane.")
        static final class ListCmd extends Action {
            @Option(names = "--after", defaultValue = "0", description = "only events after this sequence number; default: ${DEFAULT-VALUE}")
            long after;
            @Option(names = "--limit", defaultValue = "100", description = "most rows; default: ${DEFAULT-VALUE}")
            int limit;
            @Option(names = "--kind", paramLabel = "KIND", description = "only events of this kind, e.g. decision.denied")
            String kind;
            @Option(names = "--task", paramLabel = "ID", description = "only events of this task")
            String task;
            @Option(names = "--identity", paramLabel = "SPIFFE_ID", description = "only events attributed to this "
                    + "SPIFFE ID: as actor or subject, as a refused peer, or as the subject of a denied token")
            String identity;
            @Option(names = "--outcome", paramLabel = "RESULT", description = "only events with this result, e.g. denied, ok")
            String outcome;
            @Option(names = "--since", paramLabel = "AGO|TIME", description = "only events at or after this time: a "
                    + "duration ago (30m, 1h, 7d) or an RFC 3339 time")
            String since;
            @Option(names = "--until", paramLabel = "AGO|TIME", description = "only events before this time: a "
                    + "duration ago or an RFC 3339 time")
            String until;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                java.time.Instant now = java.time.Instant.now();
                AuditFilter f = new AuditFilter(kind, task, identity, outcome, time("--since", since, now),
                        time("--until", until, now));
                List<AuditEventView> events = c.audit(f, after, limit);
                print(out, events, () -> {
                    Table t = new Table("SEQ", "AT", "KIND", "TASK", "ACTOR", "ACTION", "SUBJECT", "RESULT");
                    events.forEach(e -> t.row(Long.toString(e.seq()), e.at().toString(), e.kind(),
                            e.taskId() == null ? "-" : e.taskId(), e.actor(), e.action(), e.subject(), e.result()));
                    t.print(out);
                });
            }

            /** A duration ago (1h) or an RFC 3339 time; a CtlException naming the option otherwise. */
            static java.time.Instant time(String option, String value, java.time.Instant now) {
                if (value == null) {
                    return null;
                }
                try {
                    return java.time.OffsetDateTime.parse(value).toInstant();
                } catch (java.time.format.DateTimeParseException notATime) {
                    try {
                        return now.minus(Durations.parse(value));
                    } catch (IllegalArgumentException notADuration) {
                        throw new CtlException(option + ": '" + value + "' (expected: a duration ago such as 30m, "
                                + "1h, 7d, or an RFC 3339 time such as 2026-12-06T09:00:00Z)");
                    }
                }
            }
        }

        @Command(name = "verify", mixinStandardHelpOptions = true, description = "Recompute the audit hash chain and "
                + "check it against every signed checkpoint (exit 3 when broken).")
        static final class Verify extends Action {
            @Option(names = "--against", paramLabel = "FILE", description = "also prove that the chain still extends "
                    + "this kept checkpoint (written by 'ctl audit checkpoint export'): any event at or before it "
                    + "rewritten, or history cut below it, is detected")
            java.nio.file.Path against;

            @Override
            public Integer call() {
                Integer rc = super.call();
                return rc == 0 && !intact ? 3 : rc;
            }

            boolean intact = true;

            @Override
            void run(ControlPlaneClient c, PrintWriter out) {
                var v = against == null ? c.verifyAudit() : c.verifyAudit(AuditCommands.readKept(against));
                intact = v.intact();
                print(out, v, () -> out.println(v.intact() ? "audit chain intact (" + v.events() + " events; "
                        + v.checkpoints() + " signed checkpoints verified" + (v.checkpointSeq() == null ? ""
                        : ", proven up to seq " + v.checkpointSeq()) + (against == null ? "" : ", extends " + against)
                        + ")" : "audit chain BROKEN at seq " + v.firstBrokenSeq() + ": " + v.reason()));
            }
        }
    }
}
