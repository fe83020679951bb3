package dev.tollgate.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RouteTest {
    private static final Route ROUTE = new Route("GET", "/v1/inventory/{kind}/{id}", Access.VIEWER, r -> null);

    @Test
    void pathParametersArePercentDecoded() {
        assertThat(ROUTE.match("/v1/inventory/kek/kek%3Aab12")).containsEntry("id", "kek:ab12");
        assertThat(ROUTE.match("/v1/inventory/svid/0A%3A1b")).containsEntry("id", "0A:1b");
        assertThat(ROUTE.match("/v1/inventory/ca/plain")).containsEntry("id", "plain");
    }

    @Test
    void malformedEscapesSlashesAndControlCharactersDoNotMatch() {
        assertThat(ROUTE.match("/v1/inventory/ca/a%2Fb")).isNull();
        assertThat(ROUTE.match("/v1/inventory/ca/a%0Ab")).isNull();
        assertThat(ROUTE.match("/v1/inventory/ca/a%zz")).isNull();
        assertThat(ROUTE.match("/v1/inventory/ca/a%4")).isNull();
        assertThat(ROUTE.match("/v1/inventory/ca/%C3%28")).isNull(); // invalid UTF-8
        assertThat(ROUTE.match("/v1/inventory/ca/")).isNull();
    }
}
