package dev.tollgate.api;

import java.util.Locale;

/**
 * What an operator certificate allows. Carried in the certificate (extension {@link #EXTENSION_OID}, an
 * ASN.1 UTF8String holding the role name), signed by the control plane's CA. Roles are ordered: each includes the
 * ones before it.
 */
public enum OperatorRole {
    /** Read-only access. */
    VIEWER,
    /** Day-to-day operations: register workloads, create join tokens, tasks, revocations. */
    OPERATOR,
    /** Everything, including CA rotation and operator credentials. */
    ADMIN;

    /** Private OID arc (2.25 UUID form) for the Tollgate operator-role extension. */
    public static final String EXTENSION_OID = "2.25.226135906405374516357409318396421232013.1";

    public boolean includes(OperatorRole other) {
        return ordinal() >= other.ordinal();
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static OperatorRole parse(String s) {
        for (OperatorRole r : values()) {
            if (r.wireName().equals(s)) {
                return r;
            }
        }
        throw new IllegalArgumentException("role: '" + s + "' (expected: viewer, operator or admin)");
    }
}
