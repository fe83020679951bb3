package dev.tollgate.proxy.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The files a loaded configuration names, checked by {@code sidecar --check}: every certificate, key, bundle, trust
 * anchor, policy and roots file must exist and be a readable regular file. The sidecar itself starts without them
 * (it stays not ready, or without a policy, until they appear); a pre-flight check should say so at once. The join
 * token file is not among them: it may legitimately be written after the start (it is read again while the sidecar
 * waits), so {@link #notes} mentions it instead.
 */
public final class ConfigFiles {
    private ConfigFiles() {
    }

    /** One problem per named file that cannot be read, as {@code option: path (what is wrong)}; empty when all can. */
    public static List<String> problems(SidecarConfig cfg) {
        List<String> out = new ArrayList<>();
        SidecarConfig.Tls tls = cfg.tls();
        if (tls != null && cfg.controlPlane().isEmpty()) {
            check(out, "tls.cert", tls.cert());
            check(out, "tls.key", tls.key());
            check(out, "tls.bundle", tls.bundle());
        }
        cfg.controlPlane().ifPresent(cp -> check(out, "control-plane.trust-anchor", cp.trustAnchor()));
        cfg.policy().file().ifPresent(f -> check(out, "policy.file", f));
        for (SidecarConfig.Upstream u : cfg.upstreamsInOrder()) {
            if (u.tls() instanceof SidecarConfig.ExternalTls ext) {
                ext.roots().ifPresent(r -> check(out, "upstreams." + u.name() + ".roots", r));
            }
        }
        return out;
    }

    /** Files that may be missing at a check but are worth a line: the join token file. */
    public static List<String> notes(SidecarConfig cfg) {
        List<String> out = new ArrayList<>();
        cfg.controlPlane().flatMap(SidecarConfig.ControlPlane::joinTokenFile).ifPresent(f -> {
            String what = what(f);
            if (what != null) {
                out.add("control-plane.join-token-file: " + f + " (" + what + "; the sidecar waits for a join token "
                        + "there and reads it again every control-plane.backoff-max)");
            }
        });
        return out;
    }

    private static void check(List<String> out, String option, Path p) {
        if (p == null) {
            return;
        }
        String what = what(p);
        if (what != null) {
            out.add(option + ": " + p + " (" + what + ")");
        }
    }

    /** What is wrong with a file that must be read, or null. */
    private static String what(Path p) {
        if (!Files.exists(p)) {
            return "no such file";
        }
        if (!Files.isRegularFile(p)) {
            return "not a regular file";
        }
        if (!Files.isReadable(p)) {
            return "not readable by this user";
        }
        return null;
    }
}
