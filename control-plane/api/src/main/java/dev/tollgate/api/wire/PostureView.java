package dev.tollgate.api.wire;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The posture report: what is weak, unowned, long-lived, expiring or overdue among the inventory's assets, scored.
 *
 * @param score          100 with nothing found, down by 25 per critical, 10 per high, 3 per medium and 1 per low
 *                       finding, never below 0
 * @param assetsReviewed how many live assets the rules looked at
 * @param bySeverity     how many findings of each severity (critical, high, medium, low)
 * @param byRule         how many findings of each rule, every rule named (0 where it found nothing)
 * @param findings       most severe first; at most 1000 (truncated says when more were found)
 */
public record PostureView(Instant at, int score, int assetsReviewed, Map<String, Integer> bySeverity,
                          Map<String, Integer> byRule, List<Finding> findings, boolean truncated) {

    /**
     * One finding.
     *
     * @param rule     stable rule id, e.g. {@code weak-key}
     * @param severity critical, high, medium or low
     * @param title    the rule in a few words
     * @param detail   what exactly is wrong with this asset
     * @param why      why it matters
     * @param fix      what to do
     */
    public record Finding(String rule, String severity, String title, String assetKind, String assetId,
                          String workload, String humanOwner, String serviceOwner, String detail, String why,
                          String fix) {
    }
}
