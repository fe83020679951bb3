package dev.tollgate.proxy.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigException;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.testing.TestPki;

/** One test's PKI, files and running sidecars; closes everything it started. */
public final class Mesh implements AutoCloseable {
    public static final String TD = "example.org";

    public final TestPki pki = TestPki.create(TD);
    public final Path dir;
    private final Path bundle;
    private final List<AutoCloseable> open = new ArrayList<>();

    public Mesh(Path dir) {
        this.dir = dir;
        this.bundle = dir.resolve("bundle.pem");
        write(bundle, pki.caPem());
    }

    public Path bundle() {
        return bundle;
    }

    public static String id(String path) {
        return "spiffe://" + TD + "/" + path;
    }

    /** Issues an SVID for {@code spiffe://example.org/<path>} and writes {@code <name>.crt/.key}. */
    public Path[] svidFiles(String name, String path) {
        return pki.svid(path).write(dir, name);
    }

    public Sidecar start(SidecarYaml yaml) throws IOException {
        Path file = dir.resolve("sidecar-" + open.size() + ".yaml");
        write(file, yaml.toString());
        try {
            Sidecar s = Sidecar.builder(ConfigLoader.load(file)).build();
            open.add(0, s);
            return s.start();
        } catch (ConfigException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    public Sidecar start(Sidecar.Builder builder) throws IOException {
        Sidecar s = builder.build();
        open.add(0, s);
        return s.start();
    }

    public <T extends AutoCloseable> T track(T c) {
        open.add(0, c);
        return c;
    }

    /** An SSLContext presenting {@code client} (or nothing) and trusting any SVID of this PKI. */
    public SSLContext clientContext(TestPki.Issued client) {
        return clientContext(client, "TLSv1.3");
    }

    public SSLContext clientContext(TestPki.Issued client, String protocol) {
        try {
            SSLContext ctx = SSLContext.getInstance(protocol);
            ctx.init(client == null ? null : new javax.net.ssl.KeyManager[] {new FixedKeyManager(client)},
                    new TrustManager[] {new SpiffeTrustManager(() -> List.of(pki.caCert), id -> true)}, null);
            return ctx;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Always presents the given certificate, whatever CA names the server asks for: tests send bad ones on purpose. */
    static final class FixedKeyManager extends javax.net.ssl.X509ExtendedKeyManager {
        private final TestPki.Issued id;

        FixedKeyManager(TestPki.Issued id) {
            this.id = id;
        }

        @Override
        public String[] getClientAliases(String keyType, java.security.Principal[] issuers) {
            return new String[] {"svid"};
        }

        @Override
        public String chooseClientAlias(String[] keyType, java.security.Principal[] issuers, java.net.Socket socket) {
            return "svid";
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, java.security.Principal[] issuers,
                                              javax.net.ssl.SSLEngine engine) {
            return "svid";
        }

        @Override
        public String[] getServerAliases(String keyType, java.security.Principal[] issuers) {
            return new String[] {"svid"};
        }

        @Override
        public String chooseServerAlias(String keyType, java.security.Principal[] issuers, java.net.Socket socket) {
            return "svid";
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return id.chain().toArray(new X509Certificate[0]);
        }

        @Override
        public java.security.PrivateKey getPrivateKey(String alias) {
            return id.key();
        }
    }

    public static void write(Path p, String text) {
        try {
            Files.writeString(p, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String pem(X509Certificate c) {
        return Pem.encode(c);
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
    }
}
