package dev.tollgate.controlplane.ca;

import java.security.Provider;

import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * The one Bouncy Castle provider instance the CA uses. It is passed to BC's builders explicitly rather than
 * registered globally, so the CA does not change the JVM's provider order for anyone else.
 */
final class BouncyCastle {
    static final Provider PROVIDER = new BouncyCastleProvider();

    private BouncyCastle() {
    }
}
