package dev.tollgate.bench;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import dev.tollgate.proxy.inspect.JsonRpcParser;

/**
 * What reading an MCP request costs the sidecar before its gates run: the bounded JSON-RPC parse of a typical
 * {@code tools/call}, of one with 16 KiB of arguments, and of a batch of 16 calls. Run:
 * {@code java -cp "bench/target/tollgate-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" org.openjdk.jmh.Main InspectionBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class InspectionBench {
    private final JsonRpcParser parser = new JsonRpcParser(new JsonRpcParser.Limits(1024 * 1024, 32, 64, 256 * 1024));
    private final byte[] call = call(1, "{\"customer_id\":\"c-123456\",\"fields\":[\"name\",\"email\"]}");
    private final byte[] bigArguments = call(1, "{\"text\":\"" + "x".repeat(16 * 1024) + "\"}");
    private final byte[] batch;

    public InspectionBench() {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < 16; i++) {
            b.append(i == 0 ? "" : ",").append(new String(call(i, "{\"customer_id\":\"c-" + i + "\"}"),
                    StandardCharsets.UTF_8));
        }
        batch = b.append(']').toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] call(int id, String arguments) {
        return ("{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":"
                + "\"crm.read_customer\",\"arguments\":" + arguments + ",\"_meta\":{\"progressToken\":" + id + "}}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    @Benchmark
    public Object toolCall() {
        return parser.parse(call);
    }

    @Benchmark
    public Object toolCallWith16KiBArguments() {
        return parser.parse(bigArguments);
    }

    @Benchmark
    public Object batchOf16Calls() {
        return parser.parse(batch);
    }
}
