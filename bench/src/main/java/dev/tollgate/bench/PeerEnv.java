package dev.tollgate.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What every proxy pair of one run shares: the throw-away work directory (configurations, keys, logs), the bench PKI
 * and its bundle, the tool's address, the core the proxies are pinned to, and how to start a JVM.
 *
 * @param work      temporary directory of this run
 * @param pki       the bench CA; SVIDs for the proxies are signed by it
 * @param bundle    the CA certificate as a PEM file
 * @param app       the tool (upstream) every pair forwards to
 * @param cpu       the core for every proxy process, or null for no pinning
 * @param jvmOpts   JVM options of the sidecar processes
 * @param classpath classpath of the sidecar processes
 */
record PeerEnv(Path work, BenchPki pki, Path bundle, InetSocketAddress app, Integer cpu, List<String> jvmOpts,
               String classpath) {

    /** A directory of its own for one peer under the work directory. */
    Path dir(String peer) throws IOException {
        return Files.createDirectories(work.resolve(peer));
    }

    /**
     * Certificate and key files for a proxy that is not Tollgate: the SVID shape plus a DNS name, because nginx and
     * HAProxy check the upstream's name ({@code proxy_ssl_name}, {@code verifyhost}); {@code <name>.pem} holds both
     * for HAProxy. Returns {cert, key, combined}.
     */
    Path[] namedSvid(Path dir, String spiffePath, String dnsName, String fileName) throws IOException {
        BenchPki.Svid svid = pki.svid(spiffePath, dnsName);
        Path[] files = svid.write(dir, fileName);
        Path combined = dir.resolve(fileName + ".pem");
        Files.writeString(combined, Files.readString(files[0]) + Files.readString(files[1]));
        return new Path[] {files[0], files[1], combined};
    }
}
