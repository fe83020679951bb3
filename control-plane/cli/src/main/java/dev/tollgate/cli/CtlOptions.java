package dev.tollgate.cli;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import picocli.CommandLine.Option;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.controlplane.config.ControlPlaneConfig;

/**
 * How ctl reaches the control plane. Without flags it uses what a local control plane wrote at start in
 * {@code $TOLLGATE_HOME/control-plane/operator}: the API address, the control plane's SPIFFE ID, the trust bundle
 * and the bootstrap admin credential.
 */
public final class CtlOptions {
    /** Files a control plane writes for operators, and ctl reads. */
    public static final String API_URL_FILE = "api-url";
    public static final String SERVER_ID_FILE = "server-id";
    public static final String BUNDLE_FILE = "bundle.pem";
    public static final String CERT_FILE = "admin.crt";
    public static final String KEY_FILE = "admin.key";
    /** The directory under a control plane's data-dir that holds these files. */
    public static final String OPERATOR_DIR = "operator";

    public enum Output { TABLE, JSON }

    @Option(names = "--server", paramLabel = "URL",
            description = "control plane API, like https://127.0.0.1:8443 (default: from the credential directory)")
    URI server;

    @Option(names = "--credential-dir", paramLabel = "DIR",
            description = "directory with admin.crt, admin.key, bundle.pem, api-url and server-id "
                    + "(default: <data-dir>/operator)")
    Path credentialDir;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "the data-dir of a control plane on this machine, as it was started with (--data-dir or "
                    + "data-dir in its config); its operator/ directory holds the credentials "
                    + "(default: $TOLLGATE_HOME/control-plane, $TOLLGATE_HOME defaulting to ~/.tollgate)")
    Path dataDir;

    @Option(names = "--cert", paramLabel = "FILE", description = "operator certificate chain, PEM (overrides the credential directory)")
    Path cert;

    @Option(names = "--key", paramLabel = "FILE", description = "operator private key, PEM")
    Path key;

    @Option(names = "--bundle", paramLabel = "FILE", description = "trust bundle to verify the control plane against, PEM")
    Path bundle;

    @Option(names = "--server-id", paramLabel = "SPIFFE_ID",
            description = "SPIFFE ID the control plane must present (default: from the credential directory)")
    String serverId;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT",
            description = "table (for people) or json (for scripts); default: table")
    Output output;

    @Option(names = "--timeout", paramLabel = "DURATION",
            description = "how long to wait for the control plane; default: 10s")
    String timeout;

    /** These options where given on the subcommand, else where given on {@code ctl}. */
    CtlOptions orElse(CtlOptions outer) {
        CtlOptions m = new CtlOptions();
        m.server = server != null ? server : outer.server;
        m.credentialDir = credentialDir != null ? credentialDir : outer.credentialDir;
        m.dataDir = dataDir != null ? dataDir : outer.dataDir;
        m.cert = cert != null ? cert : outer.cert;
        m.key = key != null ? key : outer.key;
        m.bundle = bundle != null ? bundle : outer.bundle;
        m.serverId = serverId != null ? serverId : outer.serverId;
        m.output = output != null ? output : outer.output != null ? outer.output : Output.TABLE;
        m.timeout = timeout != null ? timeout : outer.timeout != null ? outer.timeout : "10s";
        return m;
    }

    Path credentialDir() {
        if (credentialDir != null) {
            return credentialDir;
        }
        if (dataDir != null) {
            return dataDir.resolve(OPERATOR_DIR);
        }
        return defaultDataDir(System.getenv()).resolve(OPERATOR_DIR);
    }

    /** The data-dir of a control plane started without one: $TOLLGATE_HOME/control-plane (as the control plane). */
    public static Path defaultDataDir(Map<String, String> env) {
        return ControlPlaneConfig.defaultHome(env).resolve("control-plane");
    }

    ControlPlaneClient client() {
        Path dir = credentialDir();
        URI url = server != null ? server : URI.create(read(dir.resolve(API_URL_FILE), "--server").trim());
        SpiffeId id = SpiffeId.parse(serverId != null ? serverId : read(dir.resolve(SERVER_ID_FILE), "--server-id").trim());
        var roots = Pem.certificates(read(bundle != null ? bundle : dir.resolve(BUNDLE_FILE), "--bundle"));
        Path certFile = cert != null ? cert : dir.resolve(CERT_FILE);
        Path keyFile = key != null ? key : dir.resolve(KEY_FILE);
        ControlPlaneClient.Builder b = ControlPlaneClient.builder(url).trustBundle(roots).serverId(id)
                .timeout(dev.tollgate.controlplane.config.Durations.parse(timeout));
        if (Files.exists(certFile) || cert != null) {
            b.clientCertificate(Pem.certificates(read(certFile, "--cert")), Pem.privateKey(read(keyFile, "--key")));
        }
        return b.build();
    }

    static String read(Path p, String flag) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            String why = e instanceof java.nio.file.NoSuchFileException ? "it does not exist" : e.getClass().getSimpleName();
            throw new CtlException("cannot read " + p.toAbsolutePath() + " (" + why + "). Is a control plane running on "
                    + "this machine (./tollgate control-plane)? One started with --data-dir DIR: pass --data-dir DIR "
                    + "here too; otherwise pass " + flag + ".");
        }
    }
}
