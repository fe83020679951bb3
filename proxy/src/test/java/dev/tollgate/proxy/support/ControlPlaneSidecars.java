package dev.tollgate.proxy.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;

/** Sidecars in production wiring: configured only with {@code control-plane:} and a one-time join token. */
public final class ControlPlaneSidecars {
    private ControlPlaneSidecars() {
    }

    /**
     * Writes a join token, the trust anchor and the configuration under dir, then starts the sidecar.
     *
     * @param extra further indented lines of the {@code control-plane:} block, or ""
     */
    public static Sidecar start(Path dir, TestControlPlane cp, String name, SpiffeId id, SidecarYaml yaml,
                                String extra) throws Exception {
        return start(dir, cp, name, id, yaml, extra, b -> b);
    }

    /** As above, with further builder settings (a credential clock, say). */
    public static Sidecar start(Path dir, TestControlPlane cp, String name, SpiffeId id, SidecarYaml yaml,
                                String extra, java.util.function.UnaryOperator<Sidecar.Builder> more)
            throws Exception {
        Path file = dir.resolve(name + ".yaml");
        Mesh.write(file, yaml.controlPlane(joining(cp, dir, name, id) + extra).toString());
        return more.apply(Sidecar.builder(ConfigLoader.load(file))).build().start();
    }

    /**
     * The body (indented lines) of a {@code control-plane:} mapping that joins cp as id: writes a fresh one-time join
     * token {@code <name>.token} and the control plane's trust anchor into dir.
     */
    public static String joining(TestControlPlane cp, Path dir, String name, SpiffeId id) throws IOException {
        Path token = dir.resolve(name + ".token");
        Files.writeString(token, cp.admin().createJoinToken(id, null).token());
        Path anchor = dir.resolve("anchor.pem");
        Files.writeString(anchor, Pem.encodeCertificates(List.copyOf(cp.cp.ca().bundle().anchors())));
        return "  url: \"" + cp.cp.apiUri() + "\"\n  server-id: \"" + cp.cp.serverId() + "\"\n  trust-anchor: \""
                + anchor + "\"\n  join-token-file: \"" + token + "\"\n";
    }

    /** {@link #start(Path, TestControlPlane, String, SpiffeId, SidecarYaml, String)} with nothing extra. */
    public static Sidecar start(TestControlPlane cp, Path dir, String name, SpiffeId id, SidecarYaml yaml)
            throws Exception {
        return start(dir, cp, name, id, yaml, "");
    }
}
