package dev.tollgate.api.policy;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The calls a task has made, as the policy needs them. Thread-safe: {@link Policy#admit} evaluates and records a batch
 * while holding this task's lock, so concurrent calls of one task are decided one after the other. Bounded: the last
 * {@code maxCalls} calls are kept in order (for {@code next} transitions and rate windows); older ones are forgotten,
 * but per-tool facts survive — how often each tool was called and its first call — so {@code ever} transitions and
 * per-task limits still see a sensitive read made long ago. At most {@value #MAX_TRACKED_TOOLS} distinct tools are
 * tracked per task.
 */
public final class TaskHistory {
    /** A default history size for a task. */
    public static final int DEFAULT_MAX_CALLS = 1024;
    public static final int MAX_MAX_CALLS = 1 << 20;
    /** Distinct tools tracked per task; a call to one more is denied ({@code task-history-full}). */
    public static final int MAX_TRACKED_TOOLS = 2 * PolicyLoader.MAX_TOOLS;

    private final String taskId;
    private final int maxCalls;
    final ReentrantLock lock = new ReentrantLock();

    // Ring of the most recent calls, slot (index % capacity); it grows by doubling up to maxCalls, so short tasks
    // stay small, and wraps only once it holds maxCalls.
    private static final int INITIAL_CAPACITY = 16;
    private String[] tools;
    private Instant[] times;
    private long size; // calls ever recorded; the next call's index
    private Instant newestForgotten;
    private final Map<String, ToolFacts> facts = new HashMap<>();

    /** What is remembered of one tool for the whole task. */
    static final class ToolFacts {
        long count;
        EarlierCall first;
    }

    public TaskHistory(String taskId, int maxCalls) {
        this.taskId = Objects.requireNonNull(taskId, "taskId");
        if (maxCalls < 1 || maxCalls > MAX_MAX_CALLS) {
            throw new IllegalArgumentException("maxCalls: " + maxCalls + " (expected: 1 to " + MAX_MAX_CALLS + ")");
        }
        this.maxCalls = maxCalls;
        this.tools = new String[Math.min(maxCalls, INITIAL_CAPACITY)];
        this.times = new Instant[tools.length];
    }

    public String taskId() {
        return taskId;
    }

    public int maxCalls() {
        return maxCalls;
    }

    /** Calls recorded in this task so far, including forgotten ones. */
    public long size() {
        lock.lock();
        try {
            return size;
        } finally {
            lock.unlock();
        }
    }

    /** How many calls of the tool this task made. */
    public long count(String tool) {
        lock.lock();
        try {
            ToolFacts f = facts.get(tool);
            return f == null ? 0 : f.count;
        } finally {
            lock.unlock();
        }
    }

    // ---- used by Policy while holding the lock ---------------------------------------------------------------------

    long sizeLocked() {
        return size;
    }

    /** Calls still held in order (at most maxCalls). */
    int retained() {
        return (int) Math.min(size, maxCalls);
    }

    /** The k-th most recent retained call (0 = the last one); k < retained(). */
    String toolBack(int k) {
        return tools[slot(size - 1 - k)];
    }

    Instant timeBack(int k) {
        return times[slot(size - 1 - k)];
    }

    EarlierCall callBack(int k) {
        return new EarlierCall(toolBack(k), size - 1 - k, timeBack(k));
    }

    /** When the newest call no longer held in order was made, or null when none has been forgotten. */
    Instant newestForgotten() {
        return newestForgotten;
    }

    Map<String, ToolFacts> facts() {
        return facts;
    }

    boolean tracks(String tool) {
        return facts.containsKey(tool);
    }

    int trackedTools() {
        return facts.size();
    }

    /**
     * Records a call. Times never go backwards in the history (a call admitted after another with an earlier clock
     * reading is recorded at the later time), so a rate window can stop at the first call older than the window.
     */
    void record(String tool, Instant at) {
        if (size > 0 && at.isBefore(times[slot(size - 1)])) {
            at = times[slot(size - 1)];
        }
        if (size == tools.length && tools.length < maxCalls) {
            int capacity = (int) Math.min((long) tools.length * 2, maxCalls);
            tools = java.util.Arrays.copyOf(tools, capacity);
            times = java.util.Arrays.copyOf(times, capacity);
        }
        int s = slot(size);
        if (size >= maxCalls) {
            newestForgotten = times[s];
        }
        tools[s] = tool;
        times[s] = at;
        ToolFacts f = facts.computeIfAbsent(tool, k -> new ToolFacts());
        if (f.first == null) {
            f.first = new EarlierCall(tool, size, at);
        }
        f.count++;
        size++;
    }

    private int slot(long index) {
        return (int) (index % tools.length);
    }

    @Override
    public String toString() {
        return "TaskHistory[" + taskId + ", " + size() + " calls]";
    }
}
