package dev.tollgate.controlplane.api;

import java.net.Socket;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;

/**
 * Builds the API's server TLS context: TLS 1.3, BoringSSL when available, client certificates optional at the
 * handshake and verified per request by {@link Authenticator} (so an untrusted certificate is answered with a 401
 * problem instead of a bare handshake failure).
 */
public final class ServerTls {
    private ServerTls() {
    }

    public static SslContext build(PrivateKey key, List<X509Certificate> chain,
                                   Supplier<? extends Collection<X509Certificate>> bundle) throws SSLException {
        return SslContextBuilder.forServer(key, chain)
                .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                .protocols("TLSv1.3")
                .clientAuth(ClientAuth.OPTIONAL)
                .trustManager(new DeferredClientTrust(bundle))
                .build();
    }

    /** Accepts any client chain at the handshake; the route's authentication decides. Advertises the bundle. */
    static final class DeferredClientTrust extends X509ExtendedTrustManager {
        private final Supplier<? extends Collection<X509Certificate>> bundle;

        DeferredClientTrust(Supplier<? extends Collection<X509Certificate>> bundle) {
            this.bundle = bundle;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("this trust manager only checks clients");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("this trust manager only checks clients");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("this trust manager only checks clients");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return bundle.get().toArray(new X509Certificate[0]);
        }
    }
}
