package dev.tollgate.cli;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.wire.AssetOwnerSpec;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.InventoryView;

/** {@code ctl inventory}: every cryptographic asset with its owners and rotation state. */
final class InventoryCommands {
    private InventoryCommands() {
    }

    @Command(name = "inventory", mixinStandardHelpOptions = true,
            description = "Every cryptographic asset: CA slots, the KEK, signing keys, SVIDs, operator credentials, "
                    + "task and exchanged tokens, join tokens, with owners and rotation state.",
            subcommands = {ListCmd.class, Show.class, Owner.class})
    static final class Inventory implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List assets by kind, newest first; the filters combine.")
    static final class ListCmd extends CtlCommand.Action {
        @Option(names = "--kind", paramLabel = "KIND", split = ",", description = "ca, kek, signing_key, svid, "
                + "operator_credential, control_plane_credential, task_token, exchanged_token, join_token, exception, upstream_secret, upstream_tls (repeat or comma-separate)")
        List<String> kinds;
        @Option(names = "--owner", description = "human or service owner, exactly")
        String owner;
        @Option(names = "--workload", paramLabel = "SPIFFE_ID", description = "assets of this workload")
        String workload;
        @Option(names = "--task", paramLabel = "ID", description = "tokens of this task")
        String task;
        @Option(names = "--state", description = "current, due, overdue, prepared, superseded, retired, revoked, "
                + "expired; for join tokens outstanding, used, expired, revoked")
        String state;
        @Option(names = "--expiring-within", paramLabel = "DURATION", description = "assets not yet expired that expire within this, like 7d")
        String expiringWithin;
        @Option(names = "--limit", defaultValue = "100", description = "most rows (1 to 1000); default: ${DEFAULT-VALUE}")
        int limit;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            Map<String, String> f = new LinkedHashMap<>();
            f.put("kind", kinds == null || kinds.isEmpty() ? null : String.join(",", kinds));
            f.put("owner", owner);
            f.put("workload", workload == null ? null : CtlCommand.id(workload).toString());
            f.put("task", task);
            f.put("state", state);
            f.put("expiringWithin", expiringWithin);
            f.put("limit", Integer.toString(limit));
            InventoryView v = c.inventory(f);
            print(out, v, () -> {
                Table t = new Table("KIND", "ID", "STATE", "WORKLOAD", "TASK", "HUMAN OWNER", "SERVICE OWNER",
                        "ALGORITHM", "EXPIRES");
                for (InventoryAssetView a : v.assets()) {
                    t.row(a.kind(), a.id(), a.state(), a.workload(), a.task(), orNone(a.humanOwner()),
                            orNone(a.serviceOwner()), algorithm(a), a.expiresAt() == null ? "-" : a.expiresAt().toString());
                }
                t.print(out);
                if (v.truncated()) {
                    out.println("(more assets matched: narrow the filters or raise --limit)");
                }
            });
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one asset with every field.")
    static final class Show extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "KIND")
        String kind;
        @Parameters(index = "1", paramLabel = "ID", description = "CA id, KEK fingerprint, serial (openssl's form too), kid, jti or join token id")
        String id;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            InventoryAssetView a = c.inventoryAsset(kind, id);
            print(out, a, () -> {
                field(out, "kind", a.kind());
                field(out, "id", a.id());
                field(out, "state", a.state());
                field(out, "workload", a.workload());
                field(out, "task", a.task());
                field(out, "human owner", orNone(a.humanOwner()));
                field(out, "service owner", orNone(a.serviceOwner()));
                field(out, "owners from", a.ownerSource());
                field(out, "purpose", a.purpose());
                field(out, "rotated by", a.rotationResponsibility());
                field(out, "revoked by (paged)", a.revocationResponsibility());
                field(out, "algorithm", algorithm(a));
                field(out, "created", str(a.createdAt()));
                field(out, "expires", str(a.expiresAt()));
                field(out, "last used", str(a.lastUsedAt()));
                new java.util.TreeMap<>(a.details()).forEach((k, v) -> field(out, k, String.valueOf(v)));
            });
        }
    }

    @Command(name = "owner", mixinStandardHelpOptions = true,
            description = "Set the owners of an asset that belongs to no workload (ca, kek, signing_key, "
                    + "operator_credential, control_plane_credential), or with ID * of every asset of the kind without its own (admin).")
    static final class Owner extends CtlCommand.Action {
        @Parameters(index = "0", paramLabel = "KIND")
        String kind;
        @Parameters(index = "1", paramLabel = "ID", description = "the asset's id, or '*' for the kind")
        String id;
        @Option(names = "--human-owner", required = true, description = "the person accountable for it")
        String humanOwner;
        @Option(names = "--service-owner", required = true, description = "the team or service answerable for it")
        String serviceOwner;
        @Option(names = "--purpose", required = true, description = "what it is for")
        String purpose;
        @Option(names = "--rotated-by", required = true, description = "who rotates it")
        String rotatedBy;
        @Option(names = "--revoked-by", required = true, description = "who is paged to revoke it")
        String revokedBy;

        @Override
        void run(ControlPlaneClient c, PrintWriter out) {
            AssetOwnerSpec o = c.setAssetOwner(kind, id, new AssetOwnerSpec(humanOwner, serviceOwner, purpose,
                    rotatedBy, revokedBy));
            print(out, o, () -> out.println("owners of " + kind + " " + id + ": " + o.humanOwner() + " / "
                    + o.serviceOwner()));
        }
    }

    private static void field(PrintWriter out, String name, String value) {
        if (value != null) {
            out.printf("%-20s %s%n", name, Table.printable(value, false));
        }
    }

    private static String orNone(String s) {
        return s == null ? "(none)" : s;
    }

    private static String str(Instant i) {
        return i == null ? null : i.toString();
    }

    private static String algorithm(InventoryAssetView a) {
        if (a.algorithm() == null) {
            return "";
        }
        return a.keyBits() == null || a.algorithm().contains(String.valueOf(a.keyBits()))
                || a.algorithm().contains("P-") ? a.algorithm() : a.algorithm() + "-" + a.keyBits();
    }
}
