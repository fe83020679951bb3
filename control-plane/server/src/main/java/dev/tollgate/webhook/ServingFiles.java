package dev.tollgate.webhook;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import javax.net.ssl.SSLException;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.tls.Pem;

/**
 * The files the webhook serves from, re-read when their content changes: the serving certificate and key (rotated
 * by cert-manager or by hand without downtime: new connections take the new context, open ones keep theirs) and the
 * trust anchor written into injected pods. A new certificate is checked before it is published (it parses, the key
 * matches it, it is valid now); if anything fails the old state is kept and the failure is counted.
 */
public final class ServingFiles {
    private static final Logger log = LoggerFactory.getLogger(ServingFiles.class);

    private final Path certFile;
    private final Path keyFile;
    private final Path anchorFile;
    private final WebhookMetrics metrics;
    private final Clock clock;
    private final AtomicReference<SslContext> tls = new AtomicReference<>();
    private final AtomicReference<String> trustAnchor = new AtomicReference<>();
    private byte[] lastCert = new byte[0];
    private byte[] lastKey = new byte[0];
    private byte[] lastAnchor = new byte[0];

    private ServingFiles(Path certFile, Path keyFile, Path anchorFile, WebhookMetrics metrics, Clock clock) {
        this.certFile = certFile;
        this.keyFile = keyFile;
        this.anchorFile = anchorFile;
        this.metrics = metrics;
        this.clock = clock;
    }

    /** Loads all files once; at start-up a broken file is an error (there is no old state to keep). */
    public static ServingFiles load(Path certFile, Path keyFile, Path anchorFile, WebhookMetrics metrics, Clock clock)
            throws IOException {
        ServingFiles f = new ServingFiles(certFile, keyFile, anchorFile, metrics, clock);
        f.reloadCertificate(true);
        f.reloadTrustAnchor(true);
        return f;
    }

    public SslContext tls() {
        return tls.get();
    }

    public String trustAnchor() {
        return trustAnchor.get();
    }

    /** Checks every file for new content; never throws (a background task calls it). */
    public synchronized void reload() {
        try {
            reloadCertificate(false);
        } catch (IOException | RuntimeException e) {
            metrics.reload(WebhookMetrics.ReloadedFile.CERTIFICATE, false);
            log.warn("webhook: keeping the old serving certificate: {}", e.getMessage());
        }
        try {
            reloadTrustAnchor(false);
        } catch (IOException | RuntimeException e) {
            metrics.reload(WebhookMetrics.ReloadedFile.TRUST_ANCHOR, false);
            log.warn("webhook: keeping the old trust anchor: {}", e.getMessage());
        }
    }

    private void reloadCertificate(boolean first) throws IOException {
        byte[] cert = read(certFile);
        byte[] key = read(keyFile);
        if (!first && Arrays.equals(cert, lastCert) && Arrays.equals(key, lastKey)) {
            return;
        }
        // Remember what was seen, good or bad, so a broken file is reported once, not at every check.
        lastCert = cert;
        lastKey = key;
        List<X509Certificate> chain = Pem.certificates(new String(cert, StandardCharsets.UTF_8));
        PrivateKey pk = Pem.privateKey(new String(key, StandardCharsets.UTF_8));
        X509Certificate leaf = chain.get(0);
        Instant now = clock.instant();
        if (now.isBefore(leaf.getNotBefore().toInstant()) || now.isAfter(leaf.getNotAfter().toInstant())) {
            throw new IllegalArgumentException(certFile + ": valid " + leaf.getNotBefore().toInstant() + " .. "
                    + leaf.getNotAfter().toInstant() + " (expected: valid now, " + now + ")");
        }
        if (!keyMatches(pk, leaf)) {
            throw new IllegalArgumentException(keyFile + ": does not match the certificate in " + certFile);
        }
        SslContext ctx;
        try {
            ctx = SslContextBuilder.forServer(pk, chain)
                    .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .build();
        } catch (SSLException e) {
            throw new IllegalArgumentException("TLS context: " + e.getMessage(), e);
        }
        tls.set(ctx);
        metrics.certificateNotAfter(leaf.getNotAfter().toInstant());
        if (!first) {
            metrics.reload(WebhookMetrics.ReloadedFile.CERTIFICATE, true);
            log.info("webhook: serving the new certificate of {} (valid until {})", certFile, leaf.getNotAfter().toInstant());
        }
    }

    private void reloadTrustAnchor(boolean first) throws IOException {
        byte[] anchor = read(anchorFile);
        if (!first && Arrays.equals(anchor, lastAnchor)) {
            return;
        }
        lastAnchor = anchor;
        String pem = new String(anchor, StandardCharsets.UTF_8);
        Pem.certificates(pem);
        trustAnchor.set(pem);
        if (!first) {
            metrics.reload(WebhookMetrics.ReloadedFile.TRUST_ANCHOR, true);
            log.info("webhook: new trust anchor from {}; pods created from now on get it", anchorFile);
        }
    }

    private static byte[] read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > Pem.MAX_PEM_CHARS) {
            throw new IllegalArgumentException(file + ": " + size + " bytes (expected: <= " + Pem.MAX_PEM_CHARS + ")");
        }
        return Files.readAllBytes(file);
    }

    private static boolean keyMatches(PrivateKey key, X509Certificate cert) {
        String alg = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519" -> "Ed25519";
            default -> throw new IllegalArgumentException("private key algorithm " + key.getAlgorithm() + " (expected: EC, RSA or Ed25519)");
        };
        try {
            byte[] probe = new byte[32];
            new SecureRandom().nextBytes(probe);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(sig);
        } catch (java.security.GeneralSecurityException e) {
            return false;
        }
    }
}
