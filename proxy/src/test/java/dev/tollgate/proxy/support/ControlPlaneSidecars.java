package dev.tollgate.proxy.support;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;

/** Sidecars configured the production way: only {@code control-plane:} with a join token, nothing wired in code. */
public final class ControlPlaneSidecars {
    private ControlPlaneSidecars() {
    }

    /**
     * Writes a join token for id, the control plane's trust anchors and the configuration {@code <name>.yaml} into
     * dir, then loads and starts the sidecar.
     */
    public static Sidecar start(TestControlPlane cp, Path dir, String name, SpiffeId id, SidecarYaml yaml)
            throws Exception {
        Path token = dir.resolve(name + ".token");
        Files.writeString(token, cp.admin().createJoinToken(id, null).token());
        Path anchor = dir.resolve("anchor.pem");
        Files.writeString(anchor, Pem.encodeCertificates(List.copyOf(cp.cp.ca().bundle().anchors())));
        Path file = dir.resolve(name + ".yaml");
        Mesh.write(file, yaml.controlPlane("  url: \"" + cp.cp.apiUri() + "\"\n  server-id: \"" + cp.cp.serverId()
                + "\"\n  trust-anchor: \"" + anchor + "\"\n  join-token-file: \"" + token + "\"\n").toString());
        return Sidecar.builder(ConfigLoader.load(file)).build().start();
    }
}
