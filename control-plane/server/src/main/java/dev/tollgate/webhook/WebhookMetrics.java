package dev.tollgate.webhook;

import java.time.Clock;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/** Every meter of the webhook (docs/metrics.md). */
public final class WebhookMetrics {
    public static final String ADMISSIONS = "tollgate.webhook.admissions";
    public static final String REQUESTS_REJECTED = "tollgate.webhook.requests.rejected";
    public static final String RELOADS = "tollgate.webhook.reloads";
    public static final String CERTIFICATE_EXPIRY = "tollgate.webhook.certificate.expiry.seconds";
    public static final String TAG_RESULT = "result";
    public static final String TAG_REASON = "reason";
    public static final String TAG_FILE = "file";

    /** Why an HTTP request was refused before any admission decision. */
    public enum RejectReason {
        MALFORMED, TOO_LARGE, NOT_FOUND, METHOD_NOT_ALLOWED, CONNECTION_LIMIT;

        String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Which reloaded file. */
    public enum ReloadedFile {
        CERTIFICATE, TRUST_ANCHOR;

        String tag() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    private final Map<SidecarInjector.Result, Counter> admissions = new EnumMap<>(SidecarInjector.Result.class);
    private final Map<RejectReason, Counter> rejected = new EnumMap<>(RejectReason.class);
    private final Map<ReloadedFile, Counter[]> reloads = new EnumMap<>(ReloadedFile.class);
    private final AtomicReference<Instant> notAfter = new AtomicReference<>();

    public WebhookMetrics(MeterRegistry registry, Clock clock) {
        for (SidecarInjector.Result r : SidecarInjector.Result.values()) {
            admissions.put(r, Counter.builder(ADMISSIONS).tag(TAG_RESULT, r.tag())
                    .description("Admission requests answered, by result").register(registry));
        }
        for (RejectReason r : RejectReason.values()) {
            rejected.put(r, Counter.builder(REQUESTS_REJECTED).tag(TAG_REASON, r.tag())
                    .description("HTTP requests refused before an admission decision").register(registry));
        }
        for (ReloadedFile f : ReloadedFile.values()) {
            reloads.put(f, new Counter[] {
                Counter.builder(RELOADS).tag(TAG_FILE, f.tag()).tag(TAG_RESULT, "success")
                        .description("Loads of changed files (serving certificate, trust anchor)").register(registry),
                Counter.builder(RELOADS).tag(TAG_FILE, f.tag()).tag(TAG_RESULT, "failure")
                        .description("Loads of changed files (serving certificate, trust anchor)").register(registry)});
        }
        Gauge.builder(CERTIFICATE_EXPIRY, this, m -> {
            Instant n = m.notAfter.get();
            return n == null ? Double.NaN : (n.toEpochMilli() - clock.millis()) / 1000.0;
        }).baseUnit("seconds").description("Seconds until the serving certificate expires").register(registry);
    }

    public void admission(SidecarInjector.Result r) {
        admissions.get(r).increment();
    }

    public double admissionCount(SidecarInjector.Result r) {
        return admissions.get(r).count();
    }

    public void rejected(RejectReason r) {
        rejected.get(r).increment();
    }

    public double rejectedCount(RejectReason r) {
        return rejected.get(r).count();
    }

    public void reload(ReloadedFile f, boolean ok) {
        reloads.get(f)[ok ? 0 : 1].increment();
    }

    public double reloadCount(ReloadedFile f, boolean ok) {
        return reloads.get(f)[ok ? 0 : 1].count();
    }

    public void certificateNotAfter(Instant n) {
        notAfter.set(n);
    }
}
