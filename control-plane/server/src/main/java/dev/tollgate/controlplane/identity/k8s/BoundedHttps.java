package dev.tollgate.controlplane.identity.k8s;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import dev.tollgate.api.tls.Pem;

/**
 * HTTPS calls to a cluster (its issuer's keys, its API server) with a budget: TLS verified against the configured CA
 * file (or the JVM's trust store) with host name checks, no redirects, a deadline on the whole call and a cap on the
 * bytes read.
 */
final class BoundedHttps {
    /** A call that failed before an answer within the budget: unreachable, too slow or too large. */
    static final class CallFailed extends IOException {
        private static final long serialVersionUID = 1L;
        final boolean tooLarge;

        CallFailed(String message, boolean tooLarge, Throwable cause) {
            super(message, cause);
            this.tooLarge = tooLarge;
        }
    }

    record Answer(int status, byte[] body) {
    }

    private final HttpClient http;
    private final Duration deadline;
    private final int maxBytes;

    BoundedHttps(Optional<Path> caFile, Duration deadline, int maxBytes) throws IOException, GeneralSecurityException {
        this.deadline = deadline;
        this.maxBytes = maxBytes;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(deadline)
                .followRedirects(HttpClient.Redirect.NEVER).version(HttpClient.Version.HTTP_1_1);
        if (caFile.isPresent()) {
            b.sslContext(context(caFile.get()));
        }
        this.http = b.build();
    }

    /** An SSL context trusting exactly the certificates of a PEM file. */
    static SSLContext context(Path caFile) throws IOException, GeneralSecurityException {
        List<X509Certificate> cas;
        try {
            cas = Pem.certificates(Files.readString(caFile));
        } catch (IllegalArgumentException e) {
            throw new GeneralSecurityException(caFile + ": " + e.getMessage(), e);
        }
        if (cas.isEmpty()) {
            throw new GeneralSecurityException(caFile + ": no certificate in it");
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        for (int i = 0; i < cas.size(); i++) {
            ks.setCertificateEntry("ca-" + i, cas.get(i));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return ssl;
    }

    Answer get(URI uri) throws CallFailed {
        return send(HttpRequest.newBuilder(uri).GET().header("accept", "application/json"));
    }

    Answer post(URI uri, String bearer, byte[] json) throws CallFailed {
        return send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofByteArray(json))
                .header("content-type", "application/json").header("accept", "application/json")
                .header("authorization", "Bearer " + bearer));
    }

    private Answer send(HttpRequest.Builder rb) throws CallFailed {
        HttpRequest request = rb.timeout(deadline).build();
        CompletableFuture<HttpResponse<byte[]>> f = http.sendAsync(request, info -> new Capped(maxBytes));
        try {
            HttpResponse<byte[]> r = f.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
            return new Answer(r.statusCode(), r.body());
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new CallFailed(request.uri() + ": no answer within " + deadline.toMillis() + "ms", false, e);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new CallFailed(request.uri() + ": interrupted", false, e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            for (Throwable t = cause; t != null; t = t.getCause()) {
                if (t instanceof TooLarge) {
                    throw new CallFailed(request.uri() + ": " + t.getMessage(), true, t);
                }
                if (t == t.getCause()) {
                    break;
                }
            }
            throw new CallFailed(request.uri() + ": " + describe(cause), false, cause);
        }
    }

    private static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder(String.valueOf(t));
        for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            sb.append(": ").append(c.getMessage());
        }
        return sb.toString();
    }

    private static final class TooLarge extends IOException {
        private static final long serialVersionUID = 1L;

        TooLarge(int max) {
            super("answer larger than " + max + " bytes");
        }
    }

    /** Collects a body of at most {@code max} bytes; a longer one fails the call and cancels the rest. */
    private static final class Capped implements HttpResponse.BodySubscriber<byte[]> {
        private final int max;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private Flow.Subscription subscription;

        Capped(int max) {
            this.max = max;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (result.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                if (buf.size() + b.remaining() > max) {
                    result.completeExceptionally(new TooLarge(max));
                    subscription.cancel();
                    return;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                buf.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(buf.toByteArray());
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }
    }
}
