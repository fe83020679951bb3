package dev.tollgate.controlplane.api;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;

/** Who is calling, as established from the client certificate of the connection. */
public sealed interface Principal {
    /** The name written to audit records. */
    String auditName();

    /** No client certificate. */
    record Anonymous(String remote) implements Principal {
        @Override
        public String auditName() {
            return "anonymous@" + remote;
        }
    }

    /** A client certificate that does not verify; reason is stable, detail is for humans. */
    record Rejected(String reason, String detail, String remote) implements Principal {
        @Override
        public String auditName() {
            return "unverified@" + remote;
        }
    }

    /** An operator certificate (SPIFFE ID under /operator/); role is null when the certificate carries none. */
    record Operator(SpiffeId id, OperatorRole role) implements Principal {
        @Override
        public String auditName() {
            return id.toString();
        }
    }

    /** A workload's X.509-SVID, valid until notAfter. */
    /** A workload, by the SVID it presented: its notAfter, and its serial (hex, as recorded; null when unknown). */
    record Workload(SpiffeId id, java.time.Instant notAfter, String serialHex) implements Principal {
        public Workload(SpiffeId id, java.time.Instant notAfter) {
            this(id, notAfter, null);
        }

        @Override
        public String auditName() {
            return id.toString();
        }
    }
}
