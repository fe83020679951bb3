package dev.tollgate.bench;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.policy.Decision;
import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.policy.PolicyException;
import dev.tollgate.api.policy.TaskHistory;
import dev.tollgate.api.policy.ToolCall;
import dev.tollgate.api.wire.Json;

/**
 * Cost of {@link Policy#admit} for one call, cache-warm, with generated policies of 10 and 1,000 rules over 200
 * tools and 27 labels. The task's history is full (1,024 calls held) and one synthetic second passes per call.
 * {@code hotTool}: a call to one of four busy tools, concerned by every kind of rule (transition ever/next, step-up,
 * limit, rate, arguments), all of which pass, so the call is recorded. {@code quietTool}: a listed tool no rule
 * selects — the fixed cost of a lookup. Run:
 * {@code java -cp "bench/target/tollgate-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" org.openjdk.jmh.Main PolicyBench}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class PolicyBench {
    static final int TOOLS = 200;
    static final int HOT = 4;
    static final Instant T0 = Instant.parse("2026-11-22T00:00:00Z");

    @Param({"10", "1000"})
    public int rules;

    Policy policy;
    TaskHistory history;
    JsonNode arguments;
    long tick;
    int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        policy = Policy.parse(generate(rules, 42));
        arguments = Json.mapper().readTree("{\"id\": \"c-42\", \"url\": \"https://api.example.com/v1\", \"kind\": \"ok\", \"n\": 42}");
        history = new TaskHistory("bench", TaskHistory.DEFAULT_MAX_CALLS);
        for (int i = 0; i < 2 * TaskHistory.DEFAULT_MAX_CALLS; i++) {
            if (!hotTool().allowed()) {
                throw new IllegalStateException("the generated policy denies a hot call: " + hotTool());
            }
        }
    }

    @Benchmark
    public Decision hotTool() {
        Instant now = T0.plusSeconds(++tick);
        String tool = "t" + (next++ & (HOT - 1));
        return policy.admit(history, List.of(new ToolCall(tool, arguments, now.minusSeconds(30))), now);
    }

    @Benchmark
    public Decision quietTool() {
        Instant now = T0.plusSeconds(++tick);
        return policy.admit(history, List.of(new ToolCall("quiet", arguments, now.minusSeconds(30))), now);
    }

    /** Labels of tool i: l(i % 20) and m(i % 7). Hot tools t0..t3 carry l0..l3 and m0..m3. */
    static List<String> labels(int i) {
        return List.of("l" + (i % 20), "m" + (i % 7));
    }

    static boolean hotLabel(String label) {
        return label.equals("l0") || label.equals("l1") || label.equals("l2") || label.equals("l3")
                || label.equals("m0") || label.equals("m1") || label.equals("m2") || label.equals("m3");
    }

    /**
     * A policy with {@code n} rules cycling through every kind, selectors drawn at random (half tools, half labels),
     * with limits high enough and constraints loose enough that the hot calls always pass. Transitions start from
     * labels the hot tools never carry, so they are evaluated (a lookup) but never fire.
     */
    static String generate(int n, long seed) {
        Random r = new Random(seed);
        StringBuilder y = new StringBuilder("version: \"bench-" + n + "\"\ntools:\n  quiet: {}\n");
        for (int i = 0; i < TOOLS; i++) {
            List<String> l = labels(i);
            y.append("  t").append(i).append(": {labels: [").append(l.get(0)).append(", ").append(l.get(1)).append("]}\n");
        }
        List<String> allLabels = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            allLabels.add("l" + i);
        }
        for (int i = 0; i < 7; i++) {
            allLabels.add("m" + i);
        }
        List<String> coldLabels = allLabels.stream().filter(l -> !hotLabel(l)).toList();
        String[] constraints = {"{pointer: /id, pattern: \"[a-z0-9-]{1,32}\"}", "{pointer: /url, prefix: \"https://\"}",
                "{pointer: /kind, in: [ok, fine]}", "{pointer: /n, equals: \"42\"}"};
        y.append("rules:\n");
        for (int i = 0; i < n; i++) {
            String select = r.nextBoolean() ? "{tool: t" + r.nextInt(TOOLS) + "}"
                    : "{label: " + allLabels.get(r.nextInt(allLabels.size())) + "}";
            y.append("  - id: r").append(i).append("\n    ");
            switch (i % 5) {
                case 0 -> y.append("transition: {after: {label: ").append(coldLabels.get(r.nextInt(coldLabels.size())))
                        .append("}, then: ").append(select).append(", within: ").append(r.nextBoolean() ? "ever" : "next")
                        .append("}\n");
                case 1 -> y.append("step-up: {select: ").append(select).append(", max-credential-age: 5m}\n");
                case 2 -> y.append("limit: {select: ").append(select).append(", max-calls: 1000000000}\n");
                case 3 -> y.append("rate: {select: ").append(select).append(", max: 1000, per: 10s}\n");
                default -> y.append("arguments: {select: ").append(select).append(", constraints: [")
                        .append(constraints[r.nextInt(constraints.length)]).append(", ")
                        .append(constraints[r.nextInt(constraints.length)]).append("]}\n");
            }
        }
        return y.toString();
    }

    /** Prints, per policy size, how many rules concern each hot tool (what one admit evaluates). */
    public static void main(String[] args) throws PolicyException {
        for (int n : new int[] {10, 1000}) {
            String yaml = generate(n, 42);
            Policy p = Policy.parse(yaml);
            StringBuilder b = new StringBuilder(n + " rules (" + p.tools().size() + " tools): rules concerning");
            for (int t = 0; t < HOT; t++) {
                b.append(" t").append(t).append('=').append(concerning(yaml, t));
            }
            System.out.println(b + ", quiet=0");
        }
    }

    private static int concerning(String yaml, int tool) {
        List<String> l = labels(tool);
        int count = 0;
        for (String line : yaml.split("\n")) {
            String subject = line.contains("then: ") ? line.substring(line.indexOf("then: "))
                    : line.contains("select: ") ? line.substring(line.indexOf("select: ")) : null;
            if (subject != null && (subject.startsWith("then: {tool: t" + tool + "}")
                    || subject.startsWith("select: {tool: t" + tool + "}")
                    || subject.contains("{label: " + l.get(0) + "}") || subject.contains("{label: " + l.get(1) + "}"))) {
                count++;
            }
        }
        return count;
    }
}
