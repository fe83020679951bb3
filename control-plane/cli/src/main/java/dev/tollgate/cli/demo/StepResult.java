package dev.tollgate.cli.demo;

import java.util.Map;

/**
 * The outcome of one step of the walk-through: what happened, why, the figure that proves it, and whether that is
 * what the step expects ({@code problem} says what was different when it is not).
 *
 * @param facts the observed values the step was judged on (status, reason, rule, counts, times), for tests and
 *              scripts
 */
public record StepResult(int number, String title, boolean passed, String what, String why, String figure,
                         String problem, Map<String, Object> facts) {
}
