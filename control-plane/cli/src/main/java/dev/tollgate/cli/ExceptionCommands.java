package dev.tollgate.cli;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionView;

/** {@code ctl exception}: time-boxed, scoped, owned waivers (docs/governance.md#exceptions). */
final class ExceptionCommands {
    private ExceptionCommands() {
    }

    @Command(name = "exception", mixinStandardHelpOptions = true,
            description = "Time-boxed, scoped, owned exceptions: request one (operator), approve and review it (an "
                    + "admin other than the requester), revoke it (operator), list and show them.",
            subcommands = {Request.class, Approve.class, Review.class, Revoke.class, ListCmd.class, Show.class})
    static final class Exception extends TokenCommands.Group {
    }

    @Command(name = "request", mixinStandardHelpOptions = true,
            description = "Request an exception; it waives nothing until another admin approves it. Prints it "
                    + "with its id (--output json for scripts).")
    static final class Request extends CtlCommand.Action {
        @Option(names = "--waive", required = true, paramLabel = "WAIVER",
                description = "no-task-token, inject-credential, weak-upstream-tls, or posture:<rule>")
        String waive;
        @Option(names = "--workload", paramLabel = "SPIFFE_ID", description = "the workload whose sidecar applies it "
                + "(required except for a posture waiver of one asset)")
        String workload;
        @Option(names = "--upstream", paramLabel = "HOST:PORT", description = "the upstream (required for "
                + "inject-credential and weak-upstream-tls; for no-task-token absent means every upstream)")
        String upstream;
        @Option(names = "--path-prefix", paramLabel = "PATH", description = "only requests whose normalised path starts with it")
        String pathPrefix;
        @Option(names = "--direction", description = "egress or ingress (default: both)")
        String direction;
        @Option(names = "--asset-kind", paramLabel = "KIND", description = "a posture waiver of one asset: its inventory kind")
        String assetKind;
        @Option(names = "--asset-id", paramLabel = "ID", description = "a posture waiver of one asset: its inventory id")
        String assetId;
        @Option(names = "--justification", required = true, paramLabel = "TEXT", description = "why it is needed")
        String justification;
        @Option(names = "--human-owner", required = true, paramLabel = "EMAIL", description = "the person answerable for it")
        String humanOwner;
        @Option(names = "--expires", required = true, paramLabel = "DURATION",
                description = "how long it lasts, like 7d (at most exceptions.max-duration, 30d by default)")
        String expires;
        @Option(names = "--review-in", paramLabel = "DURATION", description = "when it must be reviewed, like 3d "
                + "(default: half its life)")
        String reviewIn;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            ExceptionView e = c.requestException(new ExceptionRequest(waive,
                    workload == null ? null : CtlCommand.id(workload).toString(), upstream, pathPrefix, direction,
                    assetKind, assetId, justification, humanOwner, CtlCommand.seconds(expires),
                    CtlCommand.seconds(reviewIn)));
            print(out, e, () -> {
                out.println("exception " + e.id() + " requested: " + e.waive() + " for " + scope(e) + " until "
                        + e.expiresAt());
                out.println("an admin other than " + e.requestedBy() + " approves it: ./tollgate ctl exception approve "
                        + e.id());
            });
        }
    }

    @Command(name = "approve", mixinStandardHelpOptions = true,
            description = "Approve a requested exception (admin, never the requester): active until its expiry.")
    static final class Approve extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "ID")
        String id;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            ExceptionView e = c.approveException(id);
            print(out, e, () -> out.println("exception " + e.id() + " is " + e.state() + " until " + e.expiresAt()
                    + " (review by " + e.reviewBy() + ")"));
        }
    }

    @Command(name = "review", mixinStandardHelpOptions = true,
            description = "Record a review (admin, not the requester); the review date moves forward by the "
                    + "exception's review period. The expiry never moves.")
    static final class Review extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "ID")
        String id;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            ExceptionView e = c.reviewException(id);
            print(out, e, () -> out.println("exception " + e.id() + " reviewed by " + e.reviewedBy()
                    + "; next review by " + e.reviewBy() + ", expires " + e.expiresAt()));
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = "Revoke a requested or active exception now (operator); sidecars stop applying it at once.")
    static final class Revoke extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "ID")
        String id;
        @Option(names = "--reason", required = true, paramLabel = "TEXT", description = "why, for the audit trail")
        String reason;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            ExceptionView e = c.revokeException(id, reason);
            print(out, e, () -> out.println("exception " + e.id() + " revoked by " + e.revokedBy()));
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List exceptions, newest first; the filters combine.")
    static final class ListCmd extends CtlCommand.Action {
        @Option(names = "--state", description = "requested, active, expired or revoked")
        String state;
        @Option(names = "--workload", paramLabel = "SPIFFE_ID", description = "only this workload's")
        String workload;
        @Option(names = "--waive", paramLabel = "WAIVER", description = "only this waiver")
        String waive;
        @Option(names = "--expiring-within", paramLabel = "DURATION", description = "requested or active ones that expire within this, like 3d")
        String expiringWithin;
        @Option(names = "--limit", defaultValue = "100", description = "most rows (1 to 1000); default: ${DEFAULT-VALUE}")
        int limit;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            Map<String, String> f = new LinkedHashMap<>();
            f.put("state", state);
            f.put("workload", workload == null ? null : CtlCommand.id(workload).toString());
            f.put("waive", waive);
            f.put("expiringWithin", expiringWithin);
            f.put("limit", Integer.toString(limit));
            List<ExceptionView> list = c.exceptions(f);
            print(out, list, () -> table(out, list));
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one exception with every field.")
    static final class Show extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "ID")
        String id;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            ExceptionView e = c.exception(id);
            print(out, e, () -> {
                field(out, "id", e.id());
                field(out, "state", e.state());
                field(out, "waive", e.waive());
                field(out, "workload", e.workload());
                field(out, "upstream", e.upstream());
                field(out, "path prefix", e.pathPrefix());
                field(out, "direction", e.direction());
                field(out, "asset", e.assetKind() == null ? null : e.assetKind() + " " + e.assetId());
                field(out, "justification", e.justification());
                field(out, "human owner", e.humanOwner());
                field(out, "requested by", e.requestedBy());
                field(out, "created", str(e.createdAt()));
                field(out, "approved by", e.approvedBy());
                field(out, "approved", str(e.approvedAt()));
                field(out, "expires", str(e.expiresAt()));
                field(out, "review by", str(e.reviewBy()));
                field(out, "reviewed by", e.reviewedBy());
                field(out, "reviewed", str(e.reviewedAt()));
                field(out, "revoked by", e.revokedBy());
                field(out, "revoked", str(e.revokedAt()));
                field(out, "revoke reason", e.revokeReason());
                field(out, "uses", Long.toString(e.uses()));
                field(out, "last used", str(e.lastUsedAt()));
            });
        }
    }

    static void table(PrintWriter out, List<ExceptionView> list) {
        Table t = new Table("ID", "STATE", "WAIVE", "WORKLOAD", "UPSTREAM", "EXPIRES", "REVIEW-BY", "OWNER", "USES");
        for (ExceptionView e : list) {
            t.row(e.id(), e.state(), e.waive(), e.workload() != null ? e.workload()
                            : e.assetKind() != null ? e.assetKind() + " " + e.assetId() : "-",
                    e.upstream() == null ? "*" : e.upstream(), e.expiresAt().toString(), e.reviewBy().toString(),
                    e.humanOwner(), Long.toString(e.uses()));
        }
        t.print(out);
    }

    private static String scope(ExceptionView e) {
        StringBuilder b = new StringBuilder(e.workload() != null ? e.workload() : e.assetKind() + " " + e.assetId());
        if (e.upstream() != null) {
            b.append(" to ").append(e.upstream());
        }
        if (e.pathPrefix() != null) {
            b.append(" under ").append(e.pathPrefix());
        }
        if (e.direction() != null) {
            b.append(" (").append(e.direction()).append(')');
        }
        return b.toString();
    }

    private static void field(PrintWriter out, String name, String value) {
        if (value != null) {
            // a justification keeps its line breaks, each further line indented under the field: never a new field
            String text = Table.printable(value, true).replace("\n", "\n" + " ".repeat(15));
            out.printf("%-14s %s%n", name, text);
        }
    }

    private static String str(Instant i) {
        return i == null ? null : i.toString();
    }
}
