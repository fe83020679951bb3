package dev.tollgate.api.client;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.SpiffeTrustManager;

/**
 * The TLS 1.3 context of every client of the control plane: the server must present {@code serverId} and chain to
 * the bundle (host names are not checked); with a chain and key the client authenticates with them.
 */
final class ClientTls {
    private ClientTls() {
    }

    /** @param chain and {@code key}: the client certificate, or both null for none */
    static SSLContext context(Supplier<? extends Collection<X509Certificate>> bundle, SpiffeId serverId,
                              List<X509Certificate> chain, PrivateKey key) throws GeneralSecurityException {
        KeyManager[] kms = null;
        if (key != null) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try {
                ks.load(null, null);
            } catch (IOException e) {
                throw new GeneralSecurityException("empty key store: " + e.getMessage(), e);
            }
            char[] pw = "tollgate".toCharArray();
            ks.setKeyEntry("client", key, pw, chain.toArray(new X509Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            kms = kmf.getKeyManagers();
        }
        SSLContext ssl = SSLContext.getInstance("TLSv1.3");
        ssl.init(kms, new TrustManager[] {new SpiffeTrustManager(bundle, serverId::equals)}, null);
        return ssl;
    }
}
