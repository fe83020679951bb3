package dev.tollgate.proxy.credential;

import java.util.List;

import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.governance.ExceptionBook;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.RequestView;

/**
 * Governance glue (issue 12): the {@link CredentialWaiver} of an {@link ExceptionBook}. A request with no task token
 * passes while an active exception of its scope ({@link ExceptionBook#waiverFor}) covers it: its {@code tollgate-token}
 * header is removed and, toward an upstream configured with {@code inject}, the injected credential is put on
 * ({@link Injection#editsFor}); the decision carries the exception's id (and the injected secret's name) and the
 * request is counted per exception. When the matching exception has expired, the denial is
 * {@code exception_expired} and its message names the exception. Exceptions arrive on the same watch stream as
 * revocations: while the revocation state is stale nothing is waived.
 */
final class ExceptionWaiver implements CredentialWaiver {
    private final CredentialEnforcement e;
    private final ExceptionBook book;

    ExceptionWaiver(CredentialEnforcement e, ExceptionBook book) {
        this.e = e;
        this.book = book;
    }

    @Override
    public GateDecision waive(RequestView r, DenyReason reason) {
        if (reason != DenyReason.MISSING) {
            return null;
        }
        Direction direction = r.direction();
        CredentialGate gate = e.gate(direction);
        SidecarConfig.Upstream u = direction == Direction.EGRESS ? r.route().orElse(null) : null;
        String target = direction == Direction.EGRESS ? (u == null ? null : u.address().toString())
                : e.config.app().map(Object::toString).orElse(null);
        String upstreamName = u == null ? null : u.name();
        ExceptionBook.Waiver w = book.waiverFor(direction, target, r.path(), e.clock.instant());
        if (w instanceof ExceptionBook.Waiver.Expired x) {
            ExceptionGrant g = x.grant();
            return gate.deny(DenyReason.EXCEPTION_EXPIRED, r, null, upstreamName, null, "exception " + g.id() + " ("
                    + g.waive() + ") expired at " + g.expiresAt() + "; the request carries no task token", g.id());
        }
        if (!(w instanceof ExceptionBook.Waiver.Active a)) {
            return null; // the missing-token denial stands as without exceptions
        }
        if (e.state.stale()) {
            return gate.deny(DenyReason.REVOCATION_STATE_STALE, r, null, upstreamName);
        }
        if (direction == Direction.EGRESS && u == null) {
            return gate.deny(DenyReason.UNKNOWN_TOOL, r, null, null);
        }
        String id = a.grant().id();
        GateDecision d = gate.allowInjecting(CredentialOutcome.ALLOWED, r, null, u, id,
                direction == Direction.EGRESS ? CredentialGate.stripCredential(r, null) : List.of());
        if (d instanceof GateDecision.Allow) {
            e.metrics.exceptionRequest(book.tagOf(id));
        }
        return d;
    }
}
