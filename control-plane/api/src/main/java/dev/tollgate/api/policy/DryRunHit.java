package dev.tollgate.api.policy;

import java.util.Optional;

/** A dry-run rule that would have denied a call: its id, the denial reason it would have given and the earlier call of a transition. */
public record DryRunHit(String ruleId, String reason, Optional<EarlierCall> after) {
}
