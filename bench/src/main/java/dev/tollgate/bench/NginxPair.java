package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Two nginx instances doing what the two sidecars do, each with one worker process pinned to the peers' core: the
 * agent side takes plain HTTP/1.1 and proxies over mTLS (client certificate, server verified against the bench CA and
 * by name, TLS 1.3, no session reuse, keep-alive upstream connections); the tool side requires and verifies a client
 * certificate and proxies plain HTTP/1.1 to the tool (keep-alive). HTTP/1.1 between the two: nginx's proxy module
 * has no HTTP/2 upstreams.
 */
final class NginxPair extends Peer.Pair {

    NginxPair(PeerEnv env) {
        super("nginx", env);
    }

    static boolean available() {
        return onPath("nginx");
    }

    @Override
    String path() {
        return "load generator → nginx (plain HTTP/1.1) → mTLS, TLS 1.3, HTTP/1.1 keep-alive → nginx (client "
                + "certificate required) → tool (HTTP/1.1 keep-alive); one worker process each";
    }

    @Override
    String version() {
        return versionOf("nginx", "-v");
    }

    @Override
    void start() throws IOException, InterruptedException {
        Path dir = env.dir(name);
        Path[] agent = env.namedSvid(dir, "agent/nginx", "agent.bench", "agent");
        Path[] tool = env.namedSvid(dir, "tool/nginx", TOOL_HOST, "tool");
        choosePorts();
        String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
        String common = user + "worker_processes 1;\ndaemon off;\nworker_rlimit_nofile 20000;\n"
                + "events { worker_connections 10000; }\n";
        Path agentConf = dir.resolve("agent.conf");
        Files.writeString(agentConf, common + "pid " + dir.resolve("agent.pid") + ";\n"
                + "http {\n  access_log off;\n" + temp(dir, "agent")
                + "  upstream tool { server 127.0.0.1:" + ingressPort + "; keepalive 1024; keepalive_requests 1000000; }\n"
                + "  server {\n    listen 127.0.0.1:" + egressPort + " backlog=4096;\n"
                + "    listen 127.0.0.1:" + h2cPort + " http2 backlog=4096;\n"
                + "    keepalive_requests 1000000;\n    keepalive_timeout 120s;\n"
                + "    location / {\n      proxy_pass https://tool;\n      proxy_http_version 1.1;\n"
                + "      proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n"
                + "      proxy_max_temp_file_size 0;\n"
                + "      proxy_ssl_certificate " + agent[0] + ";\n      proxy_ssl_certificate_key " + agent[1] + ";\n"
                + "      proxy_ssl_trusted_certificate " + env.bundle() + ";\n      proxy_ssl_verify on;\n"
                + "      proxy_ssl_verify_depth 2;\n      proxy_ssl_name " + TOOL_HOST + ";\n"
                + "      proxy_ssl_server_name on;\n      proxy_ssl_protocols TLSv1.3;\n"
                + "      proxy_ssl_session_reuse off;\n    }\n  }\n}\n");
        Path toolConf = dir.resolve("tool.conf");
        Files.writeString(toolConf, common + "pid " + dir.resolve("tool.pid") + ";\n"
                + "http {\n  access_log off;\n" + temp(dir, "tool")
                + "  upstream app { server 127.0.0.1:" + env.app().getPort() + "; keepalive 1024; keepalive_requests 1000000; }\n"
                + "  server {\n    listen 127.0.0.1:" + ingressPort + " ssl backlog=4096;\n"
                + "    ssl_certificate " + tool[0] + ";\n    ssl_certificate_key " + tool[1] + ";\n"
                + "    ssl_client_certificate " + env.bundle() + ";\n    ssl_verify_client on;\n    ssl_verify_depth 2;\n"
                + "    ssl_protocols TLSv1.3;\n    ssl_session_tickets on;\n"
                + "    keepalive_requests 1000000;\n    keepalive_timeout 120s;\n"
                + "    location / {\n      proxy_pass http://app;\n      proxy_http_version 1.1;\n"
                + "      proxy_set_header Connection \"\";\n      proxy_max_temp_file_size 0;\n    }\n  }\n}\n");
        long started = System.nanoTime();
        procs.add(new Proc("nginx tool side", command(dir, toolConf, "tool"), dir.resolve("tool.log")));
        procs.add(new Proc("nginx agent side", command(dir, agentConf, "agent"), dir.resolve("agent.log")));
        awaitFirstAnswer(started, Duration.ofSeconds(30));
    }

    private List<String> command(Path dir, Path conf, String side) {
        return pinned(env.cpu(), List.of("nginx", "-p", dir.toString(), "-c", conf.toString(),
                "-e", dir.resolve(side + "-error.log").toString()));
    }

    private static String temp(Path dir, String side) throws IOException {
        Path t = Files.createDirectories(dir.resolve(side + "-temp"));
        StringBuilder b = new StringBuilder();
        for (String kind : List.of("client_body", "proxy", "fastcgi", "uwsgi", "scgi")) {
            b.append("  ").append(kind).append("_temp_path ").append(t.resolve(kind)).append(";\n");
        }
        return b.toString();
    }
}
