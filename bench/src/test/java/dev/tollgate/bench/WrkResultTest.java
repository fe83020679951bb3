package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WrkResultTest {
    @Test
    void readsRateCountPercentilesAndErrorsFromWrkOutput() {
        String out = """
                Running 5s test @ http://127.0.0.1:4000/bench
                  1 threads and 16 connections
                  Thread Stats   Avg      Stdev     Max   +/- Stdev
                    Latency   412.50us  301.20us   9.87ms   92.11%
                    Req/Sec    38.51k     1.20k   40.10k    80.00%
                  Latency Distribution
                     50%  350.00us
                     75%  420.00us
                     90%  600.00us
                     99%    1.52ms
                  191623 requests in 5.00s, 40.12MB read
                  Socket errors: connect 0, read 2, write 0, timeout 1
                  Non-2xx or 3xx responses: 7
                Requests/sec:  38318.29
                Transfer/sec:      8.02MB
                """;
        WrkResult r = WrkResult.parse(out);
        assertThat(r.requestsPerSecond()).isEqualTo(38318.29);
        assertThat(r.requests()).isEqualTo(191623);
        assertThat(r.p50Micros()).isEqualTo(350.0);
        assertThat(r.p99Micros()).isEqualTo(1520.0);
        assertThat(r.non2xx()).isEqualTo(7);
        assertThat(r.socketErrors()).isEqualTo(3);
    }

    @Test
    void outputWithoutFiguresGivesNaNAndZeros() {
        WrkResult r = WrkResult.parse("unable to connect to 127.0.0.1:1 Connection refused\n");
        assertThat(r.requestsPerSecond()).isNaN();
        assertThat(r.requests()).isZero();
        assertThat(r.p99Micros()).isNaN();
    }
}
