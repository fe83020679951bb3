package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.policy.DenialReason;
import dev.tollgate.proxy.credential.DenyReason;
import dev.tollgate.proxy.http.RejectReason;
import dev.tollgate.proxy.inspect.InspectionReason;
import dev.tollgate.proxy.metrics.UpstreamErrorKind;
import dev.tollgate.proxy.policy.PolicyUnavailableGate;

/**
 * {@code docs/troubleshooting.md} names every denial reason of the sidecar and every error of the control plane's
 * API, each as {@code `reason`}: the closed enums of the sidecar, and the reasons written as literals where the
 * sidecar answers locally and where the control plane builds a problem document or an OAuth refusal (read from
 * the sources, so a reason added anywhere is caught). The failure names each missing reason and where it comes from.
 */
class TroubleshootingDocTest {
    static final Path TOP = Path.of("..", "..");
    static final Path PAGE = TOP.resolve("docs/troubleshooting.md");
    /** Where the sidecar answers by itself: gate denials and local responses with a literal error. */
    static final Pattern SIDECAR_LITERAL = Pattern.compile(
            "(?:deny|Deny|respondLocally)\\((?:[^\"()]*|[^\"]*\\? \\d+ : \\d+), \"([a-z_]+)\"");
    /** Problem documents and OAuth refusals of the control plane. */
    static final Pattern CONTROL_PLANE_LITERAL = Pattern.compile(
            "(?:ApiProblem\\.(?:badRequest|notFound|unauthorized|forbidden|conflict)\\(\\s*"
                    + "|Problem\\.of\\(\\d+, |new ApiProblem\\(\\d+, |Refusal\\()\"([a-z0-9_]+)");

    @Test
    void everyDenialReasonAndApiErrorIsExplained() throws IOException {
        String page = Files.readString(PAGE);
        Map<String, String> reasons = new TreeMap<>();
        Arrays.stream(DenyReason.values()).forEach(r -> reasons.put(r.tag(), "DenyReason." + r.name()));
        Arrays.stream(RejectReason.values()).forEach(r -> reasons.put(r.tag(), "RejectReason." + r.name()));
        Arrays.stream(UpstreamErrorKind.values()).forEach(r -> reasons.put(r.tag(), "UpstreamErrorKind." + r.name()));
        Arrays.stream(DenialReason.values()).forEach(r -> reasons.put(r.wire(), "policy DenialReason." + r.name()));
        Arrays.stream(InspectionReason.values()).filter(r -> r != InspectionReason.NONE).forEach(r -> {
            reasons.put(r.tag(), "InspectionReason." + r.name());
            reasons.put(r.error(), "InspectionReason." + r.name() + ".error()");
        });
        for (String error : new String[] {"credential_required", "invalid_credential", "insufficient_scope",
                "credential_check_unavailable", "bad_request", "peer_not_allowed", PolicyUnavailableGate.REASON}) {
            reasons.put(error, "the sidecar's denial bodies");
        }
        int sidecar = scan(TOP.resolve("proxy/src/main/java"), SIDECAR_LITERAL, reasons);
        int controlPlane = scan(TOP.resolve("control-plane/server/src/main/java"), CONTROL_PLANE_LITERAL, reasons);
        assertThat(sidecar).as("literal reasons found in the sidecar's sources").isGreaterThanOrEqualTo(5);
        assertThat(controlPlane).as("literal reasons found in the control plane's sources").isGreaterThanOrEqualTo(40);

        Set<String> missing = new TreeSet<>();
        reasons.forEach((reason, where) -> {
            if (!page.contains("`" + reason + "`") && !page.contains("`" + reason + ":")) {
                missing.add(reason + " (" + where + ")");
            }
        });
        assertThat(missing).as("reasons missing from %s (add each to its table with what to do)", PAGE).isEmpty();
    }

    private static int scan(Path sources, Pattern p, Map<String, String> into) throws IOException {
        int found = 0;
        try (Stream<Path> files = Files.walk(sources)) {
            for (Path f : files.filter(x -> x.toString().endsWith(".java")).toList()) {
                Matcher m = p.matcher(Files.readString(f));
                while (m.find()) {
                    found++;
                    into.putIfAbsent(m.group(1), TOP.relativize(f).toString());
                }
            }
        }
        return found;
    }
}
