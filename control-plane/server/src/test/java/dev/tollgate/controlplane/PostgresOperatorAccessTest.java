package dev.tollgate.controlplane;

import static dev.tollgate.controlplane.ControlPlaneApiContract.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.testing.EmbeddedPostgresDatabases;

/**
 * Operator credentials and revoked identities on PostgreSQL, plus what only several replicas show: a revocation
 * made on one replica is enforced by the other.
 */
class PostgresOperatorAccessTest extends OperatorAccessContract {
    private static EmbeddedPostgresDatabases postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgresDatabases.start("operator_test");
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Override
    String databaseUrl() {
        return postgres.jdbcUrl(postgres.createDatabase());
    }

    @Test
    void operatorRevokedOnOneReplicaIsRefusedByTheOther() throws Exception {
        String url = databaseUrl();
        Map<String, String> o = Map.of("watch.poll-interval", "50ms");
        try (TestControlPlane a = TestControlPlane.start(dir.resolve("a"), url, Clock.systemUTC(), o);
             TestControlPlane b = TestControlPlane.start(dir.resolve("b"), url, Clock.systemUTC(), o)) {
            Credential henry = issue(a, "henry", "operator", null);
            ControlPlaneClient onB = b.as(henry.chain(), henry.key());
            assertThat(onB.workloads()).isEmpty();

            a.admin().revokeOperator("henry", "contract ended");

            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertProblem(onB::workloads, 403,
                    "identity_revoked"));
            assertThat(b.admin().operators(10)).filteredOn(v -> v.name().equals("henry"))
                    .singleElement().satisfies(v -> assertThat(v.state()).isEqualTo("revoked"));
        }
    }
}
