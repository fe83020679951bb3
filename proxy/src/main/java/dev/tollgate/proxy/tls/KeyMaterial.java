package dev.tollgate.proxy.tls;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLException;

import io.netty.handler.ssl.OpenSslX509KeyManagerFactory;
import io.netty.handler.ssl.SslProvider;

/**
 * The key manager of one certificate chain and its key, built once and handed to every TLS context made from them
 * ({@code SslContextBuilder.forServer(factory)}, {@code keyManager(factory)}).
 *
 * <p>Given a key and a chain instead, Netty builds a PKCS#12 key store for each context and protects the key in it
 * with PBKDF2 (10,000 HMAC-SHA-256 rounds to store it, as many to read it back): for every context, again at every
 * SVID rotation, and the largest single cost of a sidecar's start in its start-up profile. The store here never
 * leaves this process's memory, where the key already is in the clear, so it is an in-memory JKS store, whose key
 * protection costs next to nothing; nothing is written anywhere.
 */
public final class KeyMaterial {
    private static final String ALIAS = "svid";
    /** Only the in-memory store's own obfuscation: it protects nothing that the process's memory does not hold. */
    private static final char[] PASSWORD = "tollgate-in-memory".toCharArray();

    private KeyMaterial() {
    }

    /**
     * A key manager factory serving {@code chain} (leaf first) with {@code key}: Netty's OpenSSL key manager factory
     * for {@link SslProvider#OPENSSL} (the key material converted once for BoringSSL and shared by every context),
     * the JDK's default otherwise.
     *
     * @throws SSLException when the key and chain cannot be put in a key store (no chain, a key of an unsupported kind)
     */
    public static KeyManagerFactory factory(PrivateKey key, List<X509Certificate> chain, SslProvider provider)
            throws SSLException {
        try {
            KeyStore store = KeyStore.getInstance("JKS");
            store.load(null, null);
            store.setKeyEntry(ALIAS, key, PASSWORD, chain.toArray(new X509Certificate[0]));
            KeyManagerFactory f = provider == SslProvider.OPENSSL ? new OpenSslX509KeyManagerFactory()
                    : KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            f.init(store, PASSWORD);
            return f;
        } catch (GeneralSecurityException | IOException | IllegalArgumentException e) {
            throw new SSLException("the key and certificate cannot be used for TLS: " + e.getMessage(), e);
        }
    }
}
