package dev.tollgate.api.policy;

import java.util.List;
import java.util.Optional;

/**
 * The outcome of {@link Policy#admit}: every call of the batch allowed (and recorded), or the batch denied by one
 * rule (and nothing recorded). Both carry the dry-run rules that would have denied a call.
 */
public sealed interface Decision permits Decision.Allowed, Decision.Denied {

    /** Hits of dry-run rules, in evaluation order. */
    List<DryRunHit> dryRun();

    boolean allowed();

    /** Every call of the batch is allowed and was recorded in the task's history. */
    record Allowed(List<DryRunHit> dryRun) implements Decision {
        public Allowed {
            dryRun = List.copyOf(dryRun);
        }

        @Override
        public boolean allowed() {
            return true;
        }
    }

    /**
     * A call of the batch is denied by rule {@code ruleId} ({@code unknown-tool} for a tool the policy does not list)
     * for {@code reason} (a {@link DenialReason#wire()} text); {@code after} names the earlier call of a transition;
     * {@code call} is the index in the batch of the call that was denied (the calls before it passed, those after it
     * were not evaluated).
     */
    record Denied(String ruleId, String reason, Optional<EarlierCall> after, List<DryRunHit> dryRun, int call)
            implements Decision {
        public Denied {
            dryRun = List.copyOf(dryRun);
            if (call < 0) {
                throw new IllegalArgumentException("call: " + call + " (expected: >= 0)");
            }
        }

        /** The first (or only) call denied. */
        public Denied(String ruleId, String reason, Optional<EarlierCall> after, List<DryRunHit> dryRun) {
            this(ruleId, reason, after, dryRun, 0);
        }

        @Override
        public boolean allowed() {
            return false;
        }

        public DenialReason denialReason() {
            return DenialReason.fromWire(reason);
        }
    }
}
