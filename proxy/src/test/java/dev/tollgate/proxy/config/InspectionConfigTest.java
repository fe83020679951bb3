package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The tool-call inspection options: per-upstream mode and REST routes, the ingress mode, the bounds. */
class InspectionConfigTest {
    static final String BASE = """
            listeners:
              ingress: {address: "0.0.0.0:8443"}
              egress: {address: "127.0.0.1:15001"}
            app: "127.0.0.1:8080"
            tls: {cert: svid.crt, key: svid.key, bundle: bundle.pem}
            identity:
              allow: ["spiffe://example.org/agent/caller"]
            """;

    static String upstream(String inspect) {
        return BASE + "upstreams:\n  crm:\n    address: \"crm.svc:8443\"\n    spiffe-id: \"spiffe://example.org/tool/crm\"\n"
                + "    match: {host: crm.internal}\n" + inspect;
    }

    @Test
    void defaultsToNoInspectionAndTheDocumentedBounds() throws Exception {
        SidecarConfig c = ConfigLoader.parse(upstream(""), null);
        assertThat(c.upstreams().get("crm").inspect()).isEqualTo(SidecarConfig.Inspect.NONE);
        assertThat(c.inspection()).isEqualTo(SidecarConfig.Inspection.defaults());
        assertThat(c.inspection().maxBody()).isEqualTo(1024 * 1024);
        assertThat(c.inspection().maxDepth()).isEqualTo(32);
        assertThat(c.inspection().maxBatch()).isEqualTo(64);
    }

    @Test
    void parsesModesRoutesAndBounds() throws Exception {
        SidecarConfig c = ConfigLoader.parse(upstream("""
                    inspection: rest
                    routes:
                      - method: POST
                        path: "/customers/{id}/notes"
                        tool: crm.add_note
                        arguments: {id: "path:id", text: "body:/note/text", v: "query:v"}
                """) + """
                ingress: {inspection: mcp}
                inspection: {max-body: 64KiB, max-depth: 8, max-batch: 4, max-task-calls: 10}
                """, null);
        SidecarConfig.Inspect crm = c.upstreams().get("crm").inspect();
        assertThat(crm.mode()).isEqualTo(SidecarConfig.InspectionMode.REST);
        SidecarConfig.RestRoute r = crm.routes().get(0);
        assertThat(r.needsBody()).isTrue();
        assertThat(r.arguments()).isEqualTo(Map.of(
                "id", new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.PATH, "id"),
                "text", new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.BODY, "/note/text"),
                "v", new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.QUERY, "v")));
        assertThat(c.inspection().ingress().mode()).isEqualTo(SidecarConfig.InspectionMode.MCP);
        assertThat(c.inspection().maxBody()).isEqualTo(64 * 1024);
        assertThat(c.inspection().maxBatch()).isEqualTo(4);
        assertThat(c.inspection().maxTaskCalls()).isEqualTo(10);
    }

    @Test
    void reportsEveryInspectionErrorAtOnce() {
        assertThatThrownBy(() -> ConfigLoader.parse(upstream("""
                    inspection: rest
                    routes:
                      - {method: get, path: "/a", tool: t.a}
                      - {method: GET, path: "/a/{id}/{id}", tool: t.b}
                      - {method: GET, path: "/a/../b", tool: t.c}
                      - {method: GET, path: "/a/{id}", tool: "bad tool", arguments: {x: "path:id"}}
                      - {method: GET, path: "/a/{id}", tool: t.d, arguments: {x: "path:other", y: "cookie:z", z: "body:no-slash"}}
                """) + """
                ingress: {inspection: grpc, routes: []}
                inspection: {max-depth: 1000, max-batch: 0}
                """, null))
                .isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).errors()).containsAll(List.of(
                        "upstreams.crm.routes[0].method: get (expected: an upper-case HTTP method)",
                        "upstreams.crm.routes[1].path: /a/{id}/{id} (expected: an absolute path of literal segments "
                                + "and {name} variables, each variable once, like /customers/{id})",
                        "upstreams.crm.routes[2].path: /a/../b (expected: an absolute path of literal segments "
                                + "and {name} variables, each variable once, like /customers/{id})",
                        "upstreams.crm.routes[3].tool: bad tool (expected: a tool name, [A-Za-z0-9][A-Za-z0-9._:/-]{0,127})",
                        "upstreams.crm.routes[4].arguments.x: path:other (expected: path:<a variable of the route's "
                                + "path: id>, query:<parameter> or body:<JSON Pointer such as /customer/id>)",
                        "upstreams.crm.routes[4].arguments.y: cookie:z (expected: path:<a variable of the route's "
                                + "path: id>, query:<parameter> or body:<JSON Pointer such as /customer/id>)",
                        "upstreams.crm.routes[4].arguments.z: body:no-slash (expected: path:<a variable of the "
                                + "route's path: id>, query:<parameter> or body:<JSON Pointer such as /customer/id>)",
                        "ingress.inspection: grpc (expected: mcp, rest or none)",
                        "ingress.routes: set (expected: only with inspection: rest)",
                        "inspection.max-depth: 1000 (expected: <= 256)",
                        "inspection.max-batch: 0 (expected: > 0)")));
        assertThatThrownBy(() -> ConfigLoader.parse(upstream("    inspection: rest\n"), null))
                .satisfies(e -> assertThat(((ConfigException) e).errors()).contains(
                        "upstreams.crm.routes: missing (expected: at least one route with inspection: rest)"));
    }
}
