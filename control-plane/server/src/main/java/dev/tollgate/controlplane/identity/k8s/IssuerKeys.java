package dev.tollgate.controlplane.identity.k8s;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;

import dev.tollgate.api.wire.Json;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.KeyFetchResult;

/**
 * The public keys of one cluster's service-account issuer, by {@code kid}: from its OIDC discovery document and the
 * JWKS it names, from a JWKS URL, or from a JWKS file (read again when it changes).
 *
 * <p>Fetched keys are used for {@code keys-refresh}, then fetched again. A failed fetch keeps the keys of the last
 * good one until {@code keys-max-age} after it, then every token of the cluster is refused ({@code keys_unavailable}:
 * fail closed, never accept). A token whose {@code kid} is unknown causes a fetch at most once per
 * {@code unknown-key-refetch} (a key rotation is picked up at once; random kids cannot make the control plane hammer
 * the issuer); failed fetches are retried no more often either. One fetch at a time per cluster: callers wait for
 * it, within the fetch deadline. Only RSA (2048 bits and more) and P-256 EC signing keys with a kid are kept.
 */
final class IssuerKeys {
    private static final Logger LOG = LoggerFactory.getLogger(IssuerKeys.class);
    static final int MIN_RSA_BITS = 2048;

    private record Loaded(Map<String, JWK> keys, Instant fetchedAt, Object version) {
    }

    private final K8sAttestationSettings.Cluster cluster;
    private final K8sAttestationSettings settings;
    private final Clock clock;
    private final ControlPlaneMetrics metrics;
    private final BoundedHttps https;
    private final ReentrantLock fetching = new ReentrantLock();
    private volatile Loaded current;
    private volatile Instant lastAttempt;
    private volatile Instant lastUnknownKeyFetch;
    private volatile boolean lastAttemptFailed;

    /** @param https the HTTPS client of the key source (null for a JWKS file) */
    IssuerKeys(K8sAttestationSettings.Cluster cluster, K8sAttestationSettings settings, Clock clock,
               ControlPlaneMetrics metrics, BoundedHttps https) {
        this.cluster = cluster;
        this.settings = settings;
        this.clock = clock;
        this.metrics = metrics;
        this.https = https;
    }

    /** The key with this kid, fetching the keys first when they are stale or do not know it (rate-limited). */
    JWK key(String kid) throws K8sRefusalException {
        if (cluster.keys() instanceof K8sAttestationSettings.JwksFile f) {
            return fromFile(f.file(), kid);
        }
        Instant now = clock.instant();
        Loaded cur = current;
        if (cur != null && now.isBefore(cur.fetchedAt().plus(settings.keysRefresh()))) {
            JWK k = cur.keys().get(kid);
            if (k != null) {
                return k;
            }
            Instant last = lastUnknownKeyFetch;
            if (last != null && now.isBefore(last.plus(settings.unknownKeyRefetch())) || failedRecently(now)) {
                throw unknownKey(kid, cur);
            }
            lastUnknownKeyFetch = now;
            Loaded got = fetch(now, cur);
            JWK again = got == null ? null : got.keys().get(kid);
            if (again != null) {
                return again;
            }
            if (got == cur && lastAttemptFailed) {
                throw unavailable();
            }
            throw unknownKey(kid, got);
        }
        // no keys yet, or stale ones
        Loaded got = failedRecently(now) ? cur : fetch(now, cur);
        if (got == null || !now.isBefore(got.fetchedAt().plus(settings.keysMaxAge()))) {
            throw unavailable();
        }
        JWK k = got.keys().get(kid);
        if (k == null) {
            throw unknownKey(kid, got);
        }
        return k;
    }

    /** After a failed fetch, the next is made no sooner than {@code unknown-key-refetch} later. */
    private boolean failedRecently(Instant now) {
        Instant last = lastAttempt;
        return lastAttemptFailed && last != null && now.isBefore(last.plus(settings.unknownKeyRefetch()));
    }

    private K8sRefusalException unknownKey(String kid, Loaded keys) {
        return new K8sRefusalException(K8sRefusal.UNKNOWN_KEY, "kid '" + kid + "' is not a key of the issuer of cluster "
                + cluster.name() + " (" + (keys == null ? 0 : keys.keys().size()) + " keys known)");
    }

    private K8sRefusalException unavailable() {
        return new K8sRefusalException(K8sRefusal.KEYS_UNAVAILABLE, "the keys of the service-account issuer of "
                + "cluster " + cluster.name() + " cannot be fetched; refusing every token until they can");
    }

    /**
     * Fetches (one caller at a time; the others wait and use its result). Returns the keys to use now: the new ones,
     * or the previous ones when the fetch failed.
     */
    private Loaded fetch(Instant now, Loaded seen) throws K8sRefusalException {
        boolean locked;
        try {
            locked = fetching.tryLock(settings.fetchTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable();
        }
        if (!locked) {
            throw unavailable();
        }
        try {
            Loaded cur = current;
            if (cur != seen) {
                return cur; // another caller fetched while this one waited
            }
            if (failedRecently(clock.instant())) {
                return cur; // another caller's fetch failed while this one waited
            }
            lastAttempt = now;
            try {
                Map<String, JWK> keys = parse(download());
                Loaded fresh = new Loaded(keys, now, null);
                current = fresh;
                lastAttemptFailed = false;
                metrics.attestationKeyFetch(KeyFetchResult.OK);
                return fresh;
            } catch (FetchFailed e) {
                lastAttemptFailed = true;
                metrics.attestationKeyFetch(e.result);
                LOG.warn("keys of the service-account issuer of cluster {} not fetched ({}): {}; {}", cluster.name(),
                        e.result.name().toLowerCase(), e.getMessage(), cur == null ? "no keys yet, refusing its tokens"
                                : "keeping the keys fetched at " + cur.fetchedAt() + " until "
                                + cur.fetchedAt().plus(settings.keysMaxAge()));
                return cur;
            }
        } finally {
            fetching.unlock();
        }
    }

    private static final class FetchFailed extends Exception {
        private static final long serialVersionUID = 1L;
        final KeyFetchResult result;

        FetchFailed(KeyFetchResult result, String message) {
            super(message, null, false, false);
            this.result = result;
        }
    }

    private byte[] download() throws FetchFailed {
        URI jwks;
        if (cluster.keys() instanceof K8sAttestationSettings.Discovery d) {
            byte[] doc = call(d.url());
            JsonNode n;
            try {
                n = Json.mapper().readTree(doc);
            } catch (IOException e) {
                throw new FetchFailed(KeyFetchResult.INVALID, d.url() + ": not JSON");
            }
            if (n == null || !cluster.issuer().equals(n.path("issuer").asText(null))) {
                throw new FetchFailed(KeyFetchResult.INVALID, d.url() + ": issuer "
                        + (n == null ? "missing" : n.path("issuer")) + " (expected: " + cluster.issuer() + ")");
            }
            String uri = n.path("jwks_uri").asText("");
            try {
                jwks = new URI(uri);
            } catch (java.net.URISyntaxException e) {
                throw new FetchFailed(KeyFetchResult.INVALID, d.url() + ": jwks_uri '" + uri + "' is not a URL");
            }
            if (!"https".equals(jwks.getScheme()) || jwks.getHost() == null) {
                throw new FetchFailed(KeyFetchResult.INVALID, d.url() + ": jwks_uri '" + uri
                        + "' (expected: an https:// URL)");
            }
        } else {
            jwks = ((K8sAttestationSettings.JwksUrl) cluster.keys()).url();
        }
        return call(jwks);
    }

    private byte[] call(URI uri) throws FetchFailed {
        BoundedHttps.Answer a;
        try {
            a = https.get(uri);
        } catch (BoundedHttps.CallFailed e) {
            throw new FetchFailed(e.tooLarge ? KeyFetchResult.TOO_LARGE : KeyFetchResult.UNREACHABLE, e.getMessage());
        }
        if (a.status() != 200) {
            throw new FetchFailed(KeyFetchResult.BAD_STATUS, uri + ": HTTP " + a.status() + " (expected: 200)");
        }
        return a.body();
    }

    /** The usable signing keys of a JWKS, by kid (the first of a repeated kid). */
    private Map<String, JWK> parse(byte[] body) throws FetchFailed {
        JWKSet set;
        try {
            set = JWKSet.parse(new String(body, StandardCharsets.UTF_8));
        } catch (java.text.ParseException e) {
            throw new FetchFailed(KeyFetchResult.INVALID, "not a JWKS: " + e.getMessage());
        }
        Map<String, JWK> keys = new LinkedHashMap<>();
        for (JWK k : set.getKeys()) {
            if (k.getKeyID() == null || (k.getKeyUse() != null && k.getKeyUse() != KeyUse.SIGNATURE)) {
                continue;
            }
            JWK pub = k.toPublicJWK();
            boolean usable = pub instanceof RSAKey r && r.size() >= MIN_RSA_BITS
                    || pub instanceof ECKey e && Curve.P_256.equals(e.getCurve());
            if (usable) {
                keys.putIfAbsent(k.getKeyID(), pub);
            }
        }
        if (keys.isEmpty()) {
            throw new FetchFailed(KeyFetchResult.INVALID, "the JWKS has no RSA (>= " + MIN_RSA_BITS
                    + " bits) or P-256 signing key with a kid");
        }
        return keys;
    }

    private JWK fromFile(Path file, String kid) throws K8sRefusalException {
        Loaded cur = current;
        Object version;
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            version = a.lastModifiedTime().toMillis() + ":" + a.size();
            if (cur == null || !version.equals(cur.version())) {
                if (a.size() > settings.maxDocumentBytes()) {
                    throw new FetchFailed(KeyFetchResult.TOO_LARGE, file + ": " + a.size() + " bytes (expected: <= "
                            + settings.maxDocumentBytes() + ")");
                }
                Loaded fresh = new Loaded(parse(Files.readAllBytes(file)), clock.instant(), version);
                current = fresh;
                cur = fresh;
                metrics.attestationKeyFetch(KeyFetchResult.OK);
            } else if (cur.fetchedAt().isBefore(clock.instant().minusSeconds(1))) {
                // the file is as it was when read: its keys are confirmed now (their age restarts)
                cur = new Loaded(cur.keys(), clock.instant(), version);
                current = cur;
            }
        } catch (IOException e) {
            if (cur == null || !keepOld(cur, file + " cannot be read: " + e.getMessage(), KeyFetchResult.UNREACHABLE)) {
                throw unavailable();
            }
        } catch (FetchFailed e) {
            if (cur == null || !keepOld(cur, e.getMessage(), e.result)) {
                throw unavailable();
            }
        }
        JWK k = cur.keys().get(kid);
        if (k == null) {
            throw unknownKey(kid, cur);
        }
        return k;
    }

    /**
     * A JWKS file that cannot be read (again, or as it now is) keeps the keys last confirmed from it until
     * {@code keys-max-age} after that, like a failed fetch: logged and counted; true to go on, false once they are
     * too old (fail closed).
     */
    private boolean keepOld(Loaded cur, String message, KeyFetchResult result) {
        metrics.attestationKeyFetch(result);
        if (!clock.instant().isBefore(cur.fetchedAt().plus(settings.keysMaxAge()))) {
            LOG.warn("JWKS file of cluster {} not read again ({}); the keys read before are older than keys-max-age:"
                    + " refusing its tokens", cluster.name(), message);
            return false;
        }
        LOG.warn("JWKS file of cluster {} not read again ({}); keeping the keys read before", cluster.name(), message);
        return true;
    }

    /** How long ago the keys in use were fetched; null before the first fetch (for tests and diagnostics). */
    Duration age() {
        Loaded cur = current;
        return cur == null ? null : Duration.between(cur.fetchedAt(), clock.instant());
    }
}
