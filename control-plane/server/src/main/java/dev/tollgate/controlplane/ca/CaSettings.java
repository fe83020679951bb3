package dev.tollgate.controlplane.ca;

import java.time.Duration;
import java.util.Objects;

/**
 * How the CA issues and rotates; immutable, validated once.
 *
 * <p>Rotation schedule, as fractions of the active CA's lifetime: at {@code prepareAt} (default 0.5) the next CA is
 * created and published in the trust bundle without signing; at {@code activateAt} (default 0.75) it starts signing
 * and the previous CA becomes old. The gap (7.5 days with the default 30-day CA) is the time every sidecar has to
 * fetch the new bundle before a certificate from the new CA reaches it, and the 25% of lifetime the old CA has left
 * keeps certificates it signed just before activation from being cut short by the lifetime cap. A prepared CA never
 * activates before it has been in the bundle for {@code activationDelay}, whatever the fractions say; that delay is
 * also all a forced rotation waits (default 30 s, 0 allowed in tests) and it should exceed the interval at which
 * replicas call {@link CaManager#refresh()}.
 *
 * @param caTtl             lifetime of a CA Tollgate generates (default 30 days)
 * @param keyType           key type of a CA Tollgate generates (default ECDSA P-256)
 * @param leafBackdate      how far NotBefore is set in the past, for clock skew (default 10 s)
 * @param prepareAt         fraction of the active CA's lifetime at which the next CA is prepared (default 0.5)
 * @param activateAt        fraction at which the prepared CA becomes active (default 0.75)
 * @param activationDelay   least time a prepared CA spends in the bundle before it signs (default 30 s)
 * @param bundleRefreshHint the {@code spiffe_refresh_hint} published with the bundle (default 5 min)
 */
public record CaSettings(Duration caTtl, CaKeyType keyType, Duration leafBackdate, double prepareAt,
                         double activateAt, Duration activationDelay, Duration bundleRefreshHint) {
    public static final Duration DEFAULT_CA_TTL = Duration.ofDays(30);
    public static final Duration DEFAULT_LEAF_BACKDATE = Duration.ofSeconds(10);
    public static final double DEFAULT_PREPARE_AT = 0.5;
    public static final double DEFAULT_ACTIVATE_AT = 0.75;
    public static final Duration DEFAULT_ACTIVATION_DELAY = Duration.ofSeconds(30);
    public static final Duration DEFAULT_BUNDLE_REFRESH_HINT = Duration.ofMinutes(5);

    public CaSettings {
        Objects.requireNonNull(caTtl, "caTtl");
        Objects.requireNonNull(keyType, "keyType");
        Objects.requireNonNull(leafBackdate, "leafBackdate");
        Objects.requireNonNull(activationDelay, "activationDelay");
        Objects.requireNonNull(bundleRefreshHint, "bundleRefreshHint");
        if (caTtl.compareTo(Duration.ofMinutes(1)) < 0) {
            throw new IllegalArgumentException("caTtl: " + caTtl + " (expected: >= PT1M)");
        }
        if (leafBackdate.isNegative() || leafBackdate.compareTo(Duration.ofMinutes(10)) > 0) {
            throw new IllegalArgumentException("leafBackdate: " + leafBackdate + " (expected: 0 to PT10M)");
        }
        if (!(prepareAt > 0 && prepareAt < 1)) {
            throw new IllegalArgumentException("prepareAt: " + prepareAt + " (expected: > 0 and < 1)");
        }
        if (!(activateAt > prepareAt && activateAt < 1)) {
            throw new IllegalArgumentException("activateAt: " + activateAt + " (expected: > prepareAt "
                    + prepareAt + " and < 1)");
        }
        if (activationDelay.isNegative()) {
            throw new IllegalArgumentException("activationDelay: " + activationDelay + " (expected: >= 0)");
        }
        if (bundleRefreshHint.isNegative() || bundleRefreshHint.isZero()) {
            throw new IllegalArgumentException("bundleRefreshHint: " + bundleRefreshHint + " (expected: > 0)");
        }
    }

    public static CaSettings defaults() {
        return new CaSettings(DEFAULT_CA_TTL, CaKeyType.EC_P256, DEFAULT_LEAF_BACKDATE, DEFAULT_PREPARE_AT,
                DEFAULT_ACTIVATE_AT, DEFAULT_ACTIVATION_DELAY, DEFAULT_BUNDLE_REFRESH_HINT);
    }

    public CaSettings withCaTtl(Duration v) {
        return new CaSettings(v, keyType, leafBackdate, prepareAt, activateAt, activationDelay, bundleRefreshHint);
    }

    public CaSettings withKeyType(CaKeyType v) {
        return new CaSettings(caTtl, v, leafBackdate, prepareAt, activateAt, activationDelay, bundleRefreshHint);
    }

    public CaSettings withLeafBackdate(Duration v) {
        return new CaSettings(caTtl, keyType, v, prepareAt, activateAt, activationDelay, bundleRefreshHint);
    }

    public CaSettings withSchedule(double prepare, double activate) {
        return new CaSettings(caTtl, keyType, leafBackdate, prepare, activate, activationDelay, bundleRefreshHint);
    }

    public CaSettings withActivationDelay(Duration v) {
        return new CaSettings(caTtl, keyType, leafBackdate, prepareAt, activateAt, v, bundleRefreshHint);
    }

    public CaSettings withBundleRefreshHint(Duration v) {
        return new CaSettings(caTtl, keyType, leafBackdate, prepareAt, activateAt, activationDelay, v);
    }
}
