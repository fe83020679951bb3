package dev.tollgate.proxy.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tollgate.proxy.config.SidecarConfig;

/** How a REST route's arguments are read: refused where the application could read another value than the one checked. */
class RestRoutesTest {
    static final RestRoutes ROUTES = new RestRoutes(List.of(new SidecarConfig.RestRoute("POST", "/pay/{account}",
            "bank.pay", Map.of(
                    "account", new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.PATH, "account"),
                    "currency", new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.QUERY, "currency"),
                    "amount", new SidecarConfig.ArgumentSource(SidecarConfig.ArgumentFrom.BODY, "/amount")))));

    @Test
    void readsEachArgumentFromItsSource() throws Exception {
        RestRoutes.Match m = ROUTES.match("POST", "/pay/a%2D1");
        ObjectMapper json = new ObjectMapper();
        // compared as JSON objects: the route's arguments are a map, in no particular order
        assertThat((Object) RestRoutes.arguments(m, "currency=EUR&x=1", json.readTree("{\"amount\":5}")))
                .isEqualTo(json.readTree("{\"account\":\"a-1\",\"currency\":\"EUR\",\"amount\":5}"));
    }

    @Test
    void aQueryParameterTwiceOrAQueryWithARawSemicolonIsAmbiguous() {
        RestRoutes.Match m = ROUTES.match("POST", "/pay/a");
        assertThat(RestRoutes.arguments(m, "currency=EUR&currency=USD", null)).isNull();
        // a server that also splits on ';' reads two values (or another one) where this reads "EUR;currency=USD"
        assertThat(RestRoutes.arguments(m, "currency=EUR;currency=USD", null)).isNull();
        assertThat(RestRoutes.arguments(m, "x=1;currency=USD&currency=EUR", null)).isNull();
        assertThat(RestRoutes.arguments(m, "currency=EUR%3BUSD", null).get("currency").asText()).isEqualTo("EUR;USD");
    }

    @Test
    void aBodyArgumentBehindAKeyAnotherEqualsButForCaseIsMissing() throws Exception {
        RestRoutes.Match m = ROUTES.match("POST", "/pay/a");
        assertThat(RestRoutes.arguments(m, null, new ObjectMapper().readTree("{\"amount\":5,\"Amount\":5000}"))
                .has("amount")).isFalse();
    }
}
