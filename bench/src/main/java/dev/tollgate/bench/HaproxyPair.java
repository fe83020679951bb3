package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Two HAProxy instances doing what the two sidecars do, each with one thread ({@code nbthread 1}) pinned to the
 * peers' core: the agent side takes plain HTTP/1.1 and proxies over mTLS (client certificate, server verified against
 * the bench CA and by name, TLS 1.3, no session reuse, connections reused); the tool side requires and verifies a
 * client certificate and proxies plain HTTP/1.1 to the tool. HTTP/1.1 between the two, as with nginx.
 */
final class HaproxyPair extends Peer.Pair {

    HaproxyPair(PeerEnv env) {
        super("haproxy", env);
    }

    static boolean available() {
        return onPath("haproxy");
    }

    @Override
    String path() {
        return "load generator → HAProxy (plain HTTP/1.1) → mTLS, TLS 1.3, HTTP/1.1 keep-alive → HAProxy (client "
                + "certificate required) → tool (HTTP/1.1 keep-alive); one thread each";
    }

    @Override
    String version() {
        return versionOf("haproxy", "-v");
    }

    @Override
    void start() throws IOException, InterruptedException {
        Path dir = env.dir(name);
        Path[] agent = env.namedSvid(dir, "agent/haproxy", "agent.bench", "agent");
        Path[] tool = env.namedSvid(dir, "tool/haproxy", TOOL_HOST, "tool");
        choosePorts();
        String common = "global\n  nbthread 1\n  maxconn 8000\n  ssl-server-verify required\n"
                + "defaults\n  mode http\n  option http-keep-alive\n  timeout connect 5s\n  timeout client 120s\n"
                + "  timeout server 60s\n  timeout http-keep-alive 120s\n  http-reuse always\n";
        Path agentConf = dir.resolve("agent.cfg");
        Files.writeString(agentConf, common
                + "frontend egress\n  bind 127.0.0.1:" + egressPort + "\n  bind 127.0.0.1:" + h2cPort
                + " proto h2\n  default_backend tool\n"
                + "backend tool\n  server tool 127.0.0.1:" + ingressPort + " ssl crt " + agent[2] + " ca-file "
                + env.bundle() + " verify required verifyhost " + TOOL_HOST + " sni str(" + TOOL_HOST + ")"
                + " ssl-min-ver TLSv1.3 no-ssl-reuse alpn http/1.1\n");
        Path toolConf = dir.resolve("tool.cfg");
        Files.writeString(toolConf, common
                + "frontend ingress\n  bind 127.0.0.1:" + ingressPort + " ssl crt " + tool[2] + " ca-file "
                + env.bundle() + " verify required ssl-min-ver TLSv1.3 alpn http/1.1\n  default_backend app\n"
                + "backend app\n  server app 127.0.0.1:" + env.app().getPort() + "\n");
        long started = System.nanoTime();
        procs.add(new Proc("HAProxy tool side", command(toolConf), dir.resolve("tool.log")));
        procs.add(new Proc("HAProxy agent side", command(agentConf), dir.resolve("agent.log")));
        awaitFirstAnswer(started, Duration.ofSeconds(30));
    }

    private List<String> command(Path conf) {
        return pinned(env.cpu(), List.of("haproxy", "-db", "-f", conf.toString()));
    }
}
