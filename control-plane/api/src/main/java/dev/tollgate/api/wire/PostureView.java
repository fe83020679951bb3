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
 * @param bySeverity     how many findings of each severity (critical, high, medium, low), acknowledged ones not
 *                       counted
 * @param byRule         how many findings of each rule, every rule named (0 where it found nothing), acknowledged
 *                       ones not counted
 * @param findings       most severe first; at most 1000 (truncated says when more were found)
 * @param incomplete     a kind had more live assets than one evaluation reads (10,000): the newest were reviewed
 */
public record PostureView(Instant at, int score, int assetsReviewed, Map<String, Integer> bySeverity,
                          Map<String, Integer> byRule, List<Finding> findings, boolean truncated,
                          boolean incomplete) {

    /**
     * One finding.
     *
     * @param rule     stable rule id, e.g. {@code weak-key}
     * @param severity critical, high, medium or low
     * @param title    the rule in a few words
     * @param detail   what exactly is wrong with this asset
     * @param why      why it matters
     * @param fix      what to do
     * @param acknowledgedBy the id of the active {@code posture:<rule>} exception that acknowledges this finding, or
     *                       null; an acknowledged finding is listed but counts neither in {@code bySeverity},
     *                       {@code byRule} nor the score
     */
    public record Finding(String rule, String severity, String title, String assetKind, String assetId,
                          String workload, String humanOwner, String serviceOwner, String detail, String why,
                          String fix, String acknowledgedBy) {

        /** A finding no exception acknowledges. */
        public Finding(String rule, String severity, String title, String assetKind, String assetId,
                       String workload, String humanOwner, String serviceOwner, String detail, String why,
                       String fix) {
            this(rule, severity, title, assetKind, assetId, workload, humanOwner, serviceOwner, detail, why, fix,
                    null);
        }

        /** This finding, acknowledged by the exception with this id. */
        public Finding acknowledged(String exceptionId) {
            return new Finding(rule, severity, title, assetKind, assetId, workload, humanOwner, serviceOwner, detail,
                    why, fix, exceptionId);
        }
    }
}
