package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.DecisionKind;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.IssuanceKind;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.IssuanceResult;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.JoinTokenOutcome;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RevisionKind;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.StreamCloseReason;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.StreamLimit;

/** A fresh control plane exposes every counter, with every tag combination, before its first event. */
class ControlPlaneMetricsTest {
    @TempDir
    Path dir;

    @Test
    void freshControlPlaneExposesEveryCounterAtZero() throws Exception {
        try (TestControlPlane tcp = TestControlPlane.start(dir)) {
            var a = tcp.cp.adminAddress();
            String scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + a.getPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            Map<String, Double> series = series(scrape);

            List<String> zero = new ArrayList<>();
            for (IssuanceKind k : IssuanceKind.values()) {
                for (IssuanceResult r : IssuanceResult.values()) {
                    if (k != IssuanceKind.OPERATOR || r != IssuanceResult.OK) { // the bootstrap admin credential
                        zero.add("tollgate_cp_svid_issuances_total{kind=\"" + lower(k) + "\",result=\"" + lower(r) + "\"}");
                    }
                }
            }
            for (JoinTokenOutcome o : JoinTokenOutcome.values()) {
                zero.add("tollgate_cp_join_tokens_total{outcome=\"" + lower(o) + "\"}");
            }
            zero.add("tollgate_cp_audit_write_failures_total");
            zero.add("tollgate_cp_api_connections_refused_total");
            for (StreamCloseReason r : StreamCloseReason.values()) {
                zero.add("tollgate_cp_watch_streams_closed_total{reason=\"" + lower(r) + "\"}");
            }
            for (StreamLimit l : StreamLimit.values()) {
                zero.add("tollgate_cp_watch_streams_refused_total{limit=\"" + lower(l) + "\"}");
            }
            zero.add("tollgate_cp_watch_resyncs_total");
            for (DecisionKind k : DecisionKind.values()) {
                zero.add("tollgate_cp_audit_decisions_total{kind=\"" + lower(k) + "\"}");
            }
            zero.add("tollgate_cp_decisions_denied_total{identity=\"unknown\"}");
            zero.add("tollgate_cp_watch_revisions_published_total{kind=\"revocation\"}");
            zero.add("tollgate_cp_watch_revisions_published_total{kind=\"policy\"}");
            for (String s : zero) {
                assertThat(series).as("series %s", s).containsEntry(s, 0.0);
            }
            assertThat(series).containsEntry("tollgate_cp_svid_issuances_total{kind=\"operator\",result=\"ok\"}", 1.0);
            for (RevisionKind k : RevisionKind.values()) {
                assertThat(series).containsKey("tollgate_cp_watch_revisions_published_total{kind=\"" + k.wireName() + "\"}");
            }
        }
    }

    /** Sample lines of a Prometheus text scrape: the series (name and labels) to its value. */
    static Map<String, Double> series(String scrape) {
        Map<String, Double> out = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^(tollgate_[a-z_]+(?:\\{[^}]*\\})?) (\\S+)$").matcher(scrape);
        while (m.find()) {
            out.put(m.group(1), Double.parseDouble(m.group(2)));
        }
        return out;
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
