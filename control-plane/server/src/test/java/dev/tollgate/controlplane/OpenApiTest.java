package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import dev.tollgate.controlplane.api.Access;
import dev.tollgate.controlplane.api.ApiRoutes;
import dev.tollgate.controlplane.api.Route;

/** The OpenAPI document describes exactly the routes the API serves. */
class OpenApiTest {
    private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "patch", "head", "options");

    @Test
    void everyRouteIsInTheDocumentAndEveryDocumentedOperationIsARoute() throws Exception {
        JsonNode doc = new YAMLMapper().readTree(ApiRoutes.openApiYaml());
        List<Route> routes = TestControlPlane.routeTable(null, null);
        Set<String> served = new HashSet<>();
        for (Route r : routes) {
            String op = r.method().toLowerCase(Locale.ROOT) + " " + r.template();
            served.add(op);
            JsonNode operation = doc.path("paths").path(r.template()).path(r.method().toLowerCase(Locale.ROOT));
            assertThat(operation.isObject()).as("OpenAPI documents %s", op).isTrue();
            assertThat(operation.path("summary").asText()).as("summary of %s", op).isNotBlank();
            boolean documentedPublic = operation.has("security") && operation.get("security").isEmpty();
            assertThat(documentedPublic).as("%s is public in the document exactly when it is public", op)
                    .isEqualTo(r.access() == Access.PUBLIC);
        }
        Set<String> documented = new HashSet<>();
        Iterator<String> paths = doc.path("paths").fieldNames();
        while (paths.hasNext()) {
            String p = paths.next();
            Iterator<String> ops = doc.path("paths").path(p).fieldNames();
            while (ops.hasNext()) {
                String m = ops.next();
                if (METHODS.contains(m)) {
                    documented.add(m + " " + p);
                }
            }
        }
        assertThat(documented).containsExactlyInAnyOrderElementsOf(served);
        assertThat(doc.path("openapi").asText()).startsWith("3.");
    }

    @Test
    void servedDocumentHasNoNullValue() throws Exception {
        // YAML reads "{description: serial number, hex}" as a key "hex" without a value: quote such text
        JsonNode doc = dev.tollgate.api.wire.Json.mapper().readTree(new YAMLMapper().readTree(ApiRoutes.openApiYaml())
                .toString());
        List<String> nulls = new java.util.ArrayList<>();
        nullsIn(doc, "", nulls);
        assertThat(nulls).isEmpty();
    }

    private static void nullsIn(JsonNode node, String at, List<String> out) {
        if (node.isNull()) {
            out.add(at);
        }
        node.fields().forEachRemaining(e -> nullsIn(e.getValue(), at + "/" + e.getKey(), out));
        for (int i = 0; node.isArray() && i < node.size(); i++) {
            nullsIn(node.get(i), at + "/" + i, out);
        }
    }
}
