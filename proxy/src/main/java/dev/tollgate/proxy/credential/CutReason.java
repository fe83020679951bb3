package dev.tollgate.proxy.credential;

import java.util.Locale;

import dev.tollgate.api.token.RevocationSet;

/**
 * Why a request already in flight was ended by the sidecar (metric tag {@code reason}): a revocation of its
 * credential, by the revocation's type, or the credential's expiry.
 */
public enum CutReason {
    TOKEN, TASK, SPIFFE_ID, SIGNING_KEY, EXPIRED;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The deny reason a request not yet answered gets when it is cut. */
    public DenyReason denyReason() {
        return this == EXPIRED ? DenyReason.EXPIRED : DenyReason.REVOKED;
    }

    static CutReason of(RevocationSet.Type t) {
        return switch (t) {
            case TOKEN -> TOKEN;
            case TASK -> TASK;
            case SPIFFE_ID -> SPIFFE_ID;
            case SIGNING_KEY -> SIGNING_KEY;
        };
    }
}
