package dev.tollgate.proxy.credential;

import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.request.RequestView;

/**
 * Where the credential step asks, before it denies a request for a reason a governance exception can waive (today:
 * {@link DenyReason#MISSING}, no task token), whether one applies. Called on the event loop; must answer from memory.
 * The waiver's {@link GateDecision.Allow} (with its header edits) then stands for the credential step's; a
 * {@link GateDecision.Deny} replaces the denial when the waiver source can say more (an exception of this scope that
 * has expired, named in the denial's message); the waiver source records and counts what it waived or refused.
 */
@FunctionalInterface
public interface CredentialWaiver {
    /** No waivers: every denial stands. */
    CredentialWaiver NONE = (r, reason) -> null;

    /** @return the allow that waives this denial, a denial that replaces it, or null when none applies */
    GateDecision waive(RequestView request, DenyReason reason);
}
