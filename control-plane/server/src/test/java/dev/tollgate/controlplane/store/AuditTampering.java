package dev.tollgate.controlplane.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * What someone with write access to the database (and nothing else) can do to the audit chain, for tests: edit an
 * event and recompute every later hash and the head, or delete the newest events and rewind the head, so that the
 * plain hash chain verifies again. Test support, shared through the test-jar.
 */
public final class AuditTampering {
    private AuditTampering() {
    }

    /** Sets the result of event seq, then re-hashes it and every later event and rewrites the head. */
    public static void editResultAndRehash(Connection c, long seq, String result) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE audit_event SET result = ? WHERE seq = ?")) {
            ps.setString(1, result);
            ps.setLong(2, seq);
            if (ps.executeUpdate() != 1) {
                throw new IllegalArgumentException("no audit event " + seq);
            }
        }
        rehashFrom(c, seq);
    }

    /** Deletes the events after keep and rewinds the head to event keep (its stored hash). */
    public static void truncateAfter(Connection c, long keep) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM audit_event WHERE seq > ?")) {
            ps.setLong(1, keep);
            ps.executeUpdate();
        }
        String hash = AuditChain.GENESIS_HASH;
        try (PreparedStatement ps = c.prepareStatement("SELECT hash FROM audit_event WHERE seq = ?")) {
            ps.setLong(1, keep);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    hash = rs.getString(1);
                }
            }
        }
        try (PreparedStatement ps = c.prepareStatement("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")) {
            ps.setLong(1, keep);
            ps.setString(2, hash);
            ps.executeUpdate();
        }
    }

    /** Deletes the stored checkpoints with seq above the given one. */
    public static void deleteCheckpointsAbove(Connection c, long seq) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM audit_checkpoint WHERE seq > ?")) {
            ps.setLong(1, seq);
            ps.executeUpdate();
        }
    }

    /** Recomputes the hashes from event seq to the last one and points the head at the last. */
    static void rehashFrom(Connection c, long seq) throws SQLException {
        String prev = AuditChain.GENESIS_HASH;
        if (seq > 1) {
            try (PreparedStatement ps = c.prepareStatement("SELECT hash FROM audit_event WHERE seq = ?")) {
                ps.setLong(1, seq - 1);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    prev = rs.getString(1);
                }
            }
        }
        record Row(long seq, AuditEvent event) {
        }
        List<Row> rows = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT seq, at, kind, actor, action, subject, result, task_id, "
                + "details_json FROM audit_event WHERE seq >= ? ORDER BY seq")) {
            ps.setLong(1, seq);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new Row(rs.getLong(1), new AuditEvent(Instant.ofEpochMilli(rs.getLong(2)), rs.getString(3),
                            rs.getString(4), rs.getString(5), rs.getString(6), rs.getString(7), rs.getString(8),
                            AuditChain.parseDetails(rs.getString(9)))));
                }
            }
        }
        long last = seq - 1;
        for (Row r : rows) {
            String hash = AuditChain.hash(prev, r.event());
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE audit_event SET prev_hash = ?, hash = ? WHERE seq = ?")) {
                ps.setString(1, prev);
                ps.setString(2, hash);
                ps.setLong(3, r.seq());
                ps.executeUpdate();
            }
            prev = hash;
            last = r.seq();
        }
        try (Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE audit_head SET seq = " + last + ", hash = '" + prev + "' WHERE id = 1");
        }
    }
}
