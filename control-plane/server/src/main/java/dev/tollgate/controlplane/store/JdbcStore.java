package dev.tollgate.controlplane.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.K8sSelector;
import dev.tollgate.controlplane.store.JoinTokenRedemption.Outcome;

/**
 * The {@link Store} on SQLite or PostgreSQL, through one HikariCP pool and one Flyway-managed schema
 * ({@code db/migration}, plain portable SQL).
 *
 * <p>Every write runs in one transaction and returns only after its commit: on SQLite the database is in WAL mode
 * with {@code synchronous=FULL}, so a commit is on disk before it returns; on PostgreSQL every write transaction
 * commits synchronously (the store forces {@code synchronous_commit=on} for its transactions when the server's
 * default is {@code off}). A failed write is rolled back whole.
 *
 * <p>SQLite has one writer at a time. The store serializes writers to a database file with a lock shared by every
 * {@code JdbcStore} of that file in the JVM, and starts write transactions with {@code BEGIN IMMEDIATE} under a
 * busy timeout so that other processes wait instead of failing; readers never wait for writers in WAL mode.
 * PostgreSQL serializes what must be serialized with row locks: the bundle sequence and the audit chain head are
 * rows updated with {@code value = value + 1}, which holds them until commit, so increments and audit appends are
 * one sequence across connections and control-plane replicas.
 *
 * <p>Instants are stored as epoch milliseconds and durations as milliseconds: anything finer is truncated, so a
 * record read back equals the one written when its times are whole milliseconds.
 */
public final class JdbcStore implements Store {
    private static final Logger LOG = LoggerFactory.getLogger(JdbcStore.class);

    /** How long a SQLite writer waits for the database: for the JVM's write lock and for other processes. */
    static final Duration SQLITE_WRITE_WAIT = Duration.ofSeconds(30);

    /** One write lock per SQLite database file, shared by every store on that file in this JVM. */
    private static final ConcurrentHashMap<Path, ReentrantLock> SQLITE_WRITE_LOCKS = new ConcurrentHashMap<>();
    private static final AtomicInteger POOL_NUMBER = new AtomicInteger();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<String>> STRING_LIST = new TypeReference<>() {
    };
    private static final int AUDIT_VERIFY_FETCH_SIZE = 1000;
    /** Where the schema's migrations live. */
    static final String MIGRATIONS = "classpath:db/migration";

    private static final String CA_COLUMNS = "id, state, certificate_chain_pem, encrypted_private_key_pem, "
            + "trust_anchor_pem, not_before, not_after, source, created_at, state_changed_at";
    private static final String WORKLOAD_COLUMNS = "spiffe_id, human_owner, service_owner, purpose, tools_json, "
            + "max_svid_ttl_ms, max_task_ttl_ms, created_at, updated_at";
    private static final String OPERATOR_COLUMNS = "serial_hex, spiffe_id, role, issued_to, issued_by, issued_at, not_after";
    private static final String SELECTOR_COLUMNS = "spiffe_id, cluster, namespace, service_account";
    private static final String SVID_COLUMNS = "serial_hex, spiffe_id, ca_id, kind, public_key_fingerprint, "
            + "key_algorithm, key_bits, not_before, not_after, issued_at, certificate_pem";
    private static final String AUDIT_COLUMNS = "seq, at, kind, actor, action, subject, result, task_id, "
            + "details_json, prev_hash, hash";

    private final StoreSettings settings;
    private final HikariDataSource dataSource;
    private final StoreSettings.Database database;
    /** SQLite only: the file's write lock; null on PostgreSQL. */
    private final ReentrantLock sqliteWriteLock;
    /** PostgreSQL only: true when the server's default would not commit synchronously. */
    private final boolean forceSynchronousCommit;
    private volatile boolean closed;
    /** The transaction of {@link #inTransaction} open on this thread, if any. */
    private final ThreadLocal<Tx> currentTx = new ThreadLocal<>();

    private JdbcStore(StoreSettings settings, HikariDataSource dataSource, ReentrantLock sqliteWriteLock,
                      boolean forceSynchronousCommit) {
        this.settings = settings;
        this.dataSource = dataSource;
        this.database = settings.database();
        this.sqliteWriteLock = sqliteWriteLock;
        this.forceSynchronousCommit = forceSynchronousCommit;
    }

    /**
     * Connects, brings the schema up to date and returns a ready store. Opening an up-to-date database again
     * changes nothing.
     *
     * @throws StoreException when the database cannot be reached, migrated or made durable
     */
    public static JdbcStore open(StoreSettings settings) {
        Objects.requireNonNull(settings, "settings: null (expected: non-null)");
        HikariConfig config = new HikariConfig();
        config.setPoolName("tollgate-store-" + POOL_NUMBER.incrementAndGet());
        config.setMaximumPoolSize(settings.maxPoolSize());
        config.setMinimumIdle(Math.min(1, settings.maxPoolSize()));
        config.setAutoCommit(true);
        ReentrantLock writeLock = null;
        if (settings.database() == StoreSettings.Database.SQLITE) {
            Path file = sqliteFile(settings);
            config.setJdbcUrl(StoreSettings.SQLITE_PREFIX + file);
            config.addDataSourceProperty("journal_mode", "WAL");
            config.addDataSourceProperty("synchronous", "FULL");
            config.addDataSourceProperty("busy_timeout", Long.toString(SQLITE_WRITE_WAIT.toMillis()));
            config.addDataSourceProperty("foreign_keys", "true");
            config.addDataSourceProperty("transaction_mode", "IMMEDIATE");
            writeLock = SQLITE_WRITE_LOCKS.computeIfAbsent(file, f -> new ReentrantLock(true));
        } else {
            config.setJdbcUrl(settings.jdbcUrl());
            config.setUsername(settings.user());
            config.setPassword(settings.password());
            config.addDataSourceProperty("ApplicationName", "tollgate-control-plane");
        }

        HikariDataSource dataSource;
        try {
            dataSource = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new StoreException("cannot connect to " + describe(settings) + ": " + rootMessage(e), e);
        }
        try {
            migrate(settings, dataSource, writeLock);
            boolean forceSync = false;
            if (settings.database() == StoreSettings.Database.SQLITE) {
                checkSqliteDurability(settings, dataSource);
            } else {
                forceSync = postgresCommitIsAsynchronous(dataSource);
                if (forceSync) {
                    LOG.warn("synchronous_commit is off on {}; the store turns it on for its own transactions",
                            describe(settings));
                }
            }
            return new JdbcStore(settings, dataSource, writeLock, forceSync);
        } catch (RuntimeException e) {
            dataSource.close();
            throw e;
        }
    }

    private static Path sqliteFile(StoreSettings settings) {
        Path file = settings.sqliteFile().toAbsolutePath().normalize();
        Path dir = file.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new StoreException("cannot open SQLite database " + file + ": directory " + dir
                    + " does not exist", null);
        }
        try {
            // The lock key must be the same for every spelling of the path, so resolve links in the directory.
            return dir.toRealPath().resolve(file.getFileName());
        } catch (IOException e) {
            throw new StoreException("cannot open SQLite database " + file + ": " + e.getMessage(), e);
        }
    }

    private static void migrate(StoreSettings settings, HikariDataSource dataSource, ReentrantLock writeLock) {
        // Flyway cannot lock a SQLite database, so migrations take the same write lock as every other writer.
        boolean locked = writeLock == null || tryLock(writeLock, "migrate the schema");
        try {
            flyway(dataSource, MIGRATIONS).migrate();
        } catch (RuntimeException e) {
            throw new StoreException("cannot migrate the schema of " + describe(settings) + ": " + rootMessage(e), e);
        } finally {
            if (locked && writeLock != null) {
                writeLock.unlock();
            }
        }
    }

    /**
     * The Flyway setup of every store: the shipped migrations, applied in version order; a database with a
     * migration missing from the middle of its history, or changed after it was applied, refuses to open.
     */
    static Flyway flyway(javax.sql.DataSource dataSource, String... locations) {
        return Flyway.configure()
                .dataSource(dataSource)
                .locations(locations)
                .failOnMissingLocations(true)
                .load();
    }

    private static void checkSqliteDurability(StoreSettings settings, HikariDataSource dataSource) {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            String journalMode;
            try (ResultSet rs = s.executeQuery("PRAGMA journal_mode")) {
                rs.next();
                journalMode = rs.getString(1);
            }
            int synchronous;
            try (ResultSet rs = s.executeQuery("PRAGMA synchronous")) {
                rs.next();
                synchronous = rs.getInt(1);
            }
            if (!"wal".equalsIgnoreCase(journalMode) || synchronous != 2) {
                throw new StoreException("SQLite database " + describe(settings) + " runs with journal_mode="
                        + journalMode + ", synchronous=" + synchronous + " (expected: wal, 2 (FULL))", null);
            }
        } catch (SQLException e) {
            throw new StoreException("cannot read the pragmas of " + describe(settings) + ": " + e.getMessage(), e);
        }
    }

    private static boolean postgresCommitIsAsynchronous(HikariDataSource dataSource) {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('synchronous_commit')")) {
            rs.next();
            return "off".equalsIgnoreCase(rs.getString(1));
        } catch (SQLException e) {
            throw new StoreException("cannot read synchronous_commit: " + e.getMessage(), e);
        }
    }

    // ---- CA slots -------------------------------------------------------------------------------------------

    @Override
    public List<CaRecord> caRecords() {
        return read("list CAs", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + CA_COLUMNS + " FROM ca ORDER BY position");
                 ResultSet rs = ps.executeQuery()) {
                List<CaRecord> cas = new ArrayList<>();
                while (rs.next()) {
                    cas.add(ca(rs));
                }
                return cas;
            }
        });
    }

    @Override
    public void insertCa(CaRecord ca) {
        Objects.requireNonNull(ca, "ca: null (expected: non-null)");
        write("insert CA " + ca.id(), "CA " + ca.id() + " already exists", c -> {
            long position = increment(c, "ca_position");
            update(c, "INSERT INTO ca (" + CA_COLUMNS + ", position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    text(ca.id(), "ca.id"), name(ca.state(), "ca.state"),
                    text(ca.certificateChainPem(), "ca.certificateChainPem"),
                    text(ca.encryptedPrivateKeyPem(), "ca.encryptedPrivateKeyPem"),
                    text(ca.trustAnchorPem(), "ca.trustAnchorPem"), millis(ca.notBefore(), "ca.notBefore"),
                    millis(ca.notAfter(), "ca.notAfter"), text(ca.source(), "ca.source"),
                    millis(ca.createdAt(), "ca.createdAt"), millis(ca.stateChangedAt(), "ca.stateChangedAt"),
                    position);
            return null;
        });
    }

    @Override
    public boolean updateCaState(String caId, CaState state, Instant changedAt) {
        return write("update CA " + caId, null, c -> update(c,
                "UPDATE ca SET state = ?, state_changed_at = ? WHERE id = ?", name(state, "state"),
                millis(changedAt, "changedAt"), text(caId, "caId")) == 1);
    }

    @Override
    public long bundleSequence() {
        return read("read the bundle sequence", c -> counter(c, "bundle_sequence"));
    }

    @Override
    public long nextBundleSequence() {
        return write("advance the bundle sequence", null, c -> increment(c, "bundle_sequence"));
    }

    // ---- workloads ------------------------------------------------------------------------------------------

    @Override
    public void insertWorkload(Workload workload) {
        Objects.requireNonNull(workload, "workload: null (expected: non-null)");
        write("insert workload " + workload.id(), "workload " + workload.id() + " already exists", c -> {
            update(c, "INSERT INTO workload (" + WORKLOAD_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    workloadValues(workload, false));
            insertSelectors(c, workload);
            return null;
        });
    }

    @Override
    public Optional<Workload> workload(SpiffeId id) {
        String key = text(id, "id");
        return read("read workload " + id, c -> {
            Optional<Workload> w = first(query(c,
                    "SELECT " + WORKLOAD_COLUMNS + " FROM workload WHERE spiffe_id = ?", JdbcStore::workload, key));
            return w.isEmpty() ? w : Optional.of(withSelectors(w.get(), selectors(c,
                    "SELECT " + SELECTOR_COLUMNS + " FROM workload_k8s_selector WHERE spiffe_id = ? ORDER BY position",
                    key).getOrDefault(key, List.of())));
        });
    }

    /** Every workload, ordered by SPIFFE ID. */
    @Override
    public List<Workload> workloads() {
        return read("list workloads", c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT " + WORKLOAD_COLUMNS + " FROM workload ORDER BY spiffe_id");
                 ResultSet rs = ps.executeQuery()) {
                List<Workload> workloads = new ArrayList<>();
                while (rs.next()) {
                    workloads.add(workload(rs));
                }
                Map<String, List<K8sSelector>> selectors = selectors(c, "SELECT " + SELECTOR_COLUMNS
                        + " FROM workload_k8s_selector ORDER BY spiffe_id, position");
                return workloads.stream()
                        .map(w -> withSelectors(w, selectors.getOrDefault(w.id().toString(), List.of()))).toList();
            }
        });
    }

    /** Replaces every field of the stored registration, createdAt included, with the given one. */
    @Override
    public boolean updateWorkload(Workload workload) {
        Objects.requireNonNull(workload, "workload: null (expected: non-null)");
        return write("update workload " + workload.id(), null, c -> {
            if (update(c, "UPDATE workload SET spiffe_id = ?, human_owner = ?, service_owner = ?, purpose = ?, "
                    + "tools_json = ?, max_svid_ttl_ms = ?, max_task_ttl_ms = ?, created_at = ?, updated_at = ? "
                    + "WHERE spiffe_id = ?", workloadValues(workload, true)) != 1) {
                return false;
            }
            update(c, "DELETE FROM workload_k8s_selector WHERE spiffe_id = ?", workload.id().toString());
            insertSelectors(c, workload);
            return true;
        });
    }

    @Override
    public boolean deleteWorkload(SpiffeId id) {
        String key = text(id, "id");
        return write("delete workload " + id, null, c -> {
            update(c, "DELETE FROM workload_k8s_selector WHERE spiffe_id = ?", key);
            return update(c, "DELETE FROM workload WHERE spiffe_id = ?", key) == 1;
        });
    }

    @Override
    public List<Workload> workloadsSelectedByK8s(String cluster, String namespace, String serviceAccount) {
        String cl = text(cluster, "cluster");
        String ns = text(namespace, "namespace");
        String sa = text(serviceAccount, "serviceAccount");
        return read("find workloads selected by " + cl + "/" + ns + "/" + sa, c -> {
            List<Workload> found = query(c, "SELECT " + WORKLOAD_COLUMNS + " FROM workload WHERE spiffe_id IN ("
                    + "SELECT spiffe_id FROM workload_k8s_selector WHERE namespace = ? AND service_account = ? "
                    + "AND (cluster = ? OR cluster = '')) ORDER BY spiffe_id", JdbcStore::workload, ns, sa, cl);
            if (found.isEmpty()) {
                return found;
            }
            List<Workload> out = new ArrayList<>();
            for (Workload w : found) {
                String key = w.id().toString();
                out.add(withSelectors(w, selectors(c, "SELECT " + SELECTOR_COLUMNS
                        + " FROM workload_k8s_selector WHERE spiffe_id = ? ORDER BY position", key)
                        .getOrDefault(key, List.of())));
            }
            return out;
        });
    }

    private static void insertSelectors(Connection c, Workload w) throws SQLException {
        int position = 0;
        for (K8sSelector sel : w.k8sSelectors()) {
            update(c, "INSERT INTO workload_k8s_selector (spiffe_id, position, cluster, namespace, service_account) "
                            + "VALUES (?, ?, ?, ?, ?)", w.id().toString(), position++,
                    sel.cluster() == null ? "" : sel.cluster(), text(sel.namespace(), "selector.namespace"),
                    text(sel.serviceAccount(), "selector.serviceAccount"));
        }
    }

    /** Selectors by SPIFFE ID, each list in the order of the query. */
    private static Map<String, List<K8sSelector>> selectors(Connection c, String sql, Object... values)
            throws SQLException {
        Map<String, List<K8sSelector>> out = new LinkedHashMap<>();
        for (Object[] row : query(c, sql, rs -> new Object[] {rs.getString(1),
                new K8sSelector(rs.getString(2), rs.getString(3), rs.getString(4))}, values)) {
            out.computeIfAbsent((String) row[0], k -> new ArrayList<>()).add((K8sSelector) row[1]);
        }
        return out;
    }

    private static Workload withSelectors(Workload w, List<K8sSelector> selectors) {
        return new Workload(w.id(), w.humanOwner(), w.serviceOwner(), w.purpose(), w.tools(), w.maxSvidTtl(),
                w.maxTaskTtl(), w.createdAt(), w.updatedAt(), selectors);
    }

    private static Object[] workloadValues(Workload w, boolean keyAgainAtEnd) {
        String id = text(w.id(), "workload.id");
        String tools;
        try {
            tools = JSON.writeValueAsString(w.tools());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("workload.tools: cannot be written as JSON: " + e.getMessage(), e);
        }
        List<Object> values = new ArrayList<>(List.of(id, text(w.humanOwner(), "workload.humanOwner"),
                text(w.serviceOwner(), "workload.serviceOwner"), text(w.purpose(), "workload.purpose"), tools,
                durationMillis(w.maxSvidTtl(), "workload.maxSvidTtl"),
                durationMillis(w.maxTaskTtl(), "workload.maxTaskTtl"), millis(w.createdAt(), "workload.createdAt"),
                millis(w.updatedAt(), "workload.updatedAt")));
        if (keyAgainAtEnd) {
            values.add(id);
        }
        return values.toArray();
    }

    // ---- join tokens ----------------------------------------------------------------------------------------

    @Override
    public void insertJoinToken(JoinTokenRecord token) {
        Objects.requireNonNull(token, "token: null (expected: non-null)");
        write("insert join token", "a join token with this hash already exists", c -> {
            update(c, "INSERT INTO join_token (token_hash, spiffe_id, created_at, expires_at, created_by) "
                            + "VALUES (?, ?, ?, ?, ?)", text(token.tokenHash(), "token.tokenHash"),
                    text(token.workload(), "token.workload"), millis(token.createdAt(), "token.createdAt"),
                    millis(token.expiresAt(), "token.expiresAt"), text(token.createdBy(), "token.createdBy"));
            return null;
        });
    }

    /**
     * Redeems the token when it is unused and {@code now} is before its expiry. A token that is both used and
     * expired reports {@code ALREADY_USED}: a replay is the more telling fact.
     */
    @Override
    public JoinTokenRedemption redeemJoinToken(String tokenHash, Instant now) {
        String hash = text(tokenHash, "tokenHash");
        long nowMillis = millis(now, "now");
        return write("redeem join token", null, c -> {
            // The conditional UPDATE is the single point of truth: on PostgreSQL a second redeemer blocks on the
            // row lock and then re-checks "used_at IS NULL" against the committed row; on SQLite writers are serial.
            int redeemed = update(c, "UPDATE join_token SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
                    + "AND revoked_at IS NULL AND expires_at > ?", nowMillis, hash, nowMillis);
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT spiffe_id, used_at, revoked_at FROM join_token WHERE token_hash = ?")) {
                ps.setString(1, hash);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return new JoinTokenRedemption(Outcome.UNKNOWN, Optional.empty());
                    }
                    Optional<SpiffeId> workload = Optional.of(SpiffeId.parse(rs.getString(1)));
                    rs.getLong(2);
                    boolean used = !rs.wasNull();
                    rs.getLong(3);
                    boolean revoked = !rs.wasNull();
                    Outcome outcome = redeemed == 1 ? Outcome.REDEEMED : used ? Outcome.ALREADY_USED
                            : revoked ? Outcome.REVOKED : Outcome.EXPIRED;
                    return new JoinTokenRedemption(outcome, workload);
                }
            }
        });
    }

    private static final String JOIN_TOKEN_COLUMNS = "token_hash, spiffe_id, created_at, expires_at, created_by, "
            + "used_at, revoked_at, revoked_by";

    @Override
    public List<JoinTokenEntry> joinTokens(Optional<SpiffeId> workload, int limit) {
        Objects.requireNonNull(workload, "workload: null (expected: non-null)");
        requirePositive(limit, "limit");
        return read("list join tokens", c -> workload.isPresent()
                ? query(c, "SELECT " + JOIN_TOKEN_COLUMNS + " FROM join_token WHERE spiffe_id = ? "
                        + "ORDER BY created_at DESC, token_hash DESC LIMIT ?", JdbcStore::joinTokenEntry,
                        workload.get().toString(), limit)
                : query(c, "SELECT " + JOIN_TOKEN_COLUMNS + " FROM join_token "
                        + "ORDER BY created_at DESC, token_hash DESC LIMIT ?", JdbcStore::joinTokenEntry, limit));
    }

    @Override
    public List<JoinTokenRecord> revokeJoinToken(String hashPrefix, Instant at, String by) {
        String prefix = text(hashPrefix, "hashPrefix");
        if (prefix.length() < 12 || prefix.length() > 64 || !prefix.chars().allMatch(
                ch -> (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            throw new IllegalArgumentException("hashPrefix: '" + prefix + "' (expected: 12 to 64 lowercase hex digits)");
        }
        return revokeJoinTokens("revoke join token " + prefix, "token_hash LIKE ?", prefix + "%", at, by, true, true);
    }

    @Override
    public List<JoinTokenRecord> revokeJoinTokensOf(SpiffeId workload, Instant at, String by) {
        return revokeJoinTokens("revoke join tokens of " + workload, "spiffe_id = ?", text(workload, "workload"), at,
                by, true, false);
    }

    private List<JoinTokenRecord> revokeJoinTokens(String what, String where, String value, Instant at, String by,
                                                   boolean unexpiredOnly, boolean exactlyOne) {
        long atMillis = millis(at, "at");
        String actor = text(by, "by");
        String outstanding = " AND used_at IS NULL AND revoked_at IS NULL" + (unexpiredOnly ? " AND expires_at > ?" : "");
        return write(what, null, c -> {
            List<JoinTokenRecord> hit = unexpiredOnly
                    ? query(c, "SELECT " + JOIN_TOKEN_COLUMNS + " FROM join_token WHERE " + where + outstanding
                            + " ORDER BY created_at, token_hash", r -> joinTokenEntry(r).token(), value, atMillis)
                    : query(c, "SELECT " + JOIN_TOKEN_COLUMNS + " FROM join_token WHERE " + where + outstanding
                            + " ORDER BY created_at, token_hash", r -> joinTokenEntry(r).token(), value);
            if (exactlyOne && hit.size() > 1) {
                return hit; // ambiguous: nothing revoked, the caller says which tokens matched
            }
            // Only what this UPDATE changed counts: a token redeemed (or revoked) by another transaction between the
            // read and the write is not reported revoked.
            List<JoinTokenRecord> revoked = new ArrayList<>();
            for (JoinTokenRecord t : hit) {
                if (update(c, "UPDATE join_token SET revoked_at = ?, revoked_by = ? WHERE token_hash = ? "
                        + "AND used_at IS NULL AND revoked_at IS NULL", atMillis, actor, t.tokenHash()) == 1) {
                    revoked.add(t);
                }
            }
            return revoked;
        });
    }

    private static JoinTokenEntry joinTokenEntry(ResultSet rs) throws SQLException {
        JoinTokenRecord t = new JoinTokenRecord(rs.getString(1), SpiffeId.parse(rs.getString(2)), instant(rs, 3),
                instant(rs, 4), rs.getString(5));
        long used = rs.getLong(6);
        Optional<Instant> usedAt = rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(used));
        long revoked = rs.getLong(7);
        Optional<Instant> revokedAt = rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(revoked));
        return new JoinTokenEntry(t, usedAt, revokedAt, Optional.ofNullable(rs.getString(8)));
    }

    // ---- issued certificates --------------------------------------------------------------------------------

    @Override
    public void insertSvid(SvidRecord svid) {
        Objects.requireNonNull(svid, "svid: null (expected: non-null)");
        write("insert SVID " + svid.serialHex(), "SVID serial " + svid.serialHex() + " already exists", c -> {
            update(c, "INSERT INTO svid (" + SVID_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    text(svid.serialHex(), "svid.serialHex"), text(svid.spiffeId(), "svid.spiffeId"),
                    text(svid.caId(), "svid.caId"), text(svid.kind(), "svid.kind"),
                    text(svid.publicKeyFingerprint(), "svid.publicKeyFingerprint"),
                    text(svid.keyAlgorithm(), "svid.keyAlgorithm"), svid.keyBits(),
                    millis(svid.notBefore(), "svid.notBefore"), millis(svid.notAfter(), "svid.notAfter"),
                    millis(svid.issuedAt(), "svid.issuedAt"), text(svid.certificatePem(), "svid.certificatePem"));
            return null;
        });
    }

    @Override
    public Optional<SvidRecord> svid(String serialHex) {
        String serial = text(serialHex, "serialHex");
        return read("read SVID " + serialHex, c -> first(query(c,
                "SELECT " + SVID_COLUMNS + " FROM svid WHERE serial_hex = ?", JdbcStore::svid, serial)));
    }

    /** Newest issuedAt first; certificates issued in the same millisecond by descending serial. */
    @Override
    public List<SvidRecord> svids(Optional<SpiffeId> id, int limit) {
        Objects.requireNonNull(id, "id: null (expected: an Optional)");
        requirePositive(limit, "limit");
        return read("list SVIDs", c -> {
            String sql = "SELECT " + SVID_COLUMNS + " FROM svid"
                    + (id.isPresent() ? " WHERE spiffe_id = ?" : "")
                    + " ORDER BY issued_at DESC, serial_hex DESC LIMIT ?";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                int i = 1;
                if (id.isPresent()) {
                    ps.setString(i++, id.get().toString());
                }
                ps.setInt(i, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    List<SvidRecord> svids = new ArrayList<>();
                    while (rs.next()) {
                        svids.add(svid(rs));
                    }
                    return svids;
                }
            }
        });
    }

    // ---- operator credentials -------------------------------------------------------------------------------

    @Override
    public void insertOperatorCredential(OperatorCredentialRecord cred) {
        Objects.requireNonNull(cred, "credential: null (expected: non-null)");
        write("insert operator credential " + cred.serialHex(),
                "operator credential serial " + cred.serialHex() + " already exists", c -> {
            update(c, "INSERT INTO operator_credential (" + OPERATOR_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?)",
                    text(cred.serialHex(), "credential.serialHex"), text(cred.spiffeId(), "credential.spiffeId"),
                    text(cred.role(), "credential.role"), text(cred.issuedTo(), "credential.issuedTo"),
                    text(cred.issuedBy(), "credential.issuedBy"), millis(cred.issuedAt(), "credential.issuedAt"),
                    millis(cred.notAfter(), "credential.notAfter"));
            return null;
        });
    }

    /** Newest issuedAt first; credentials issued in the same millisecond by descending serial. */
    @Override
    public List<OperatorCredentialRecord> operatorCredentials(Optional<SpiffeId> id, int limit) {
        Objects.requireNonNull(id, "id: null (expected: an Optional)");
        requirePositive(limit, "limit");
        return read("list operator credentials", c -> {
            String sql = "SELECT " + OPERATOR_COLUMNS + " FROM operator_credential"
                    + (id.isPresent() ? " WHERE spiffe_id = ?" : "") + " ORDER BY issued_at DESC, serial_hex DESC LIMIT ?";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                int i = 1;
                if (id.isPresent()) {
                    ps.setString(i++, id.get().toString());
                }
                ps.setInt(i, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    List<OperatorCredentialRecord> out = new ArrayList<>();
                    while (rs.next()) {
                        out.add(new OperatorCredentialRecord(rs.getString(1), SpiffeId.parse(rs.getString(2)),
                                rs.getString(3), rs.getString(4), rs.getString(5), instant(rs, 6), instant(rs, 7)));
                    }
                    return out;
                }
            }
        });
    }

    @Override
    public Optional<Instant> latestExpiryIssuedBy(String caId) {
        String key = text(caId, "caId");
        return read("read the latest expiry issued by CA " + caId, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT MAX(not_after) FROM svid WHERE ca_id = ?")) {
                ps.setString(1, key);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long notAfter = rs.getLong(1);
                    return rs.wasNull() ? Optional.<Instant>empty() : Optional.of(Instant.ofEpochMilli(notAfter));
                }
            }
        });
    }

    // ---- audit ----------------------------------------------------------------------------------------------

    /**
     * Appends the event to the one hash chain. The returned record holds the event as stored: its instant truncated
     * to milliseconds and its details normalised (whole numbers as {@code Long}, other numbers as {@code Double}).
     *
     * @throws NullPointerException     when a field other than taskId is null
     * @throws IllegalArgumentException when a details value is not a string, number or boolean
     */
    @Override
    public AuditRecord appendAudit(AuditEvent event) {
        return appendAuditBatch(List.of(event)).get(0);
    }

    @Override
    public List<AuditRecord> appendAuditBatch(List<AuditEvent> events) {
        if (events.isEmpty()) {
            throw new IllegalArgumentException("events: empty (expected: at least one audit event)");
        }
        List<AuditEvent> stored = new ArrayList<>(events.size());
        List<String> details = new ArrayList<>(events.size());
        for (AuditEvent event : events) {
            AuditEvent s = AuditChain.normalize(event);
            stored.add(s);
            details.add(AuditChain.detailsJson(s.details()));
        }
        long recordedAt = settings.clock().millis();
        String what = events.size() == 1 ? "append audit event " + stored.get(0).kind()
                : "append " + events.size() + " audit events";
        return write(what, null, c -> {
            // Locks the chain head until commit: appends from every connection and replica form one chain.
            update(c, "UPDATE audit_head SET seq = seq + ? WHERE id = 1", stored.size());
            long last;
            String prevHash;
            try (PreparedStatement ps = c.prepareStatement("SELECT seq, hash FROM audit_head WHERE id = 1");
                 ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("the audit chain head row is missing");
                }
                last = rs.getLong(1);
                prevHash = rs.getString(2);
            }
            List<AuditRecord> out = new ArrayList<>(stored.size());
            long seq = last - stored.size();
            update(c, "DELETE FROM audit_identity WHERE seq > ?", seq);
            for (int i = 0; i < stored.size(); i++) {
                seq++;
                AuditEvent e = stored.get(i);
                String hash = AuditChain.hash(prevHash, e);
                update(c, "INSERT INTO audit_event (" + AUDIT_COLUMNS + ", recorded_at) "
                                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", seq, e.at().toEpochMilli(),
                        e.kind(), e.actor(), e.action(), e.subject(), e.result(), e.taskId(), details.get(i),
                        prevHash, hash, recordedAt);
                for (String identity : e.identities()) {
                    update(c, "INSERT INTO audit_identity (identity, seq) VALUES (?, ?)", identity, seq);
                }
                out.add(new AuditRecord(seq, e, prevHash, hash));
                prevHash = hash;
            }
            update(c, "UPDATE audit_head SET hash = ? WHERE id = 1", prevHash);
            return out;
        });
    }

    @Override
    public List<AuditRecord> audit(long afterSeq, int limit) {
        return audit(AuditQuery.ALL, afterSeq, limit);
    }

    @Override
    public List<AuditRecord> audit(AuditQuery q, long afterSeq, int limit) {
        if (afterSeq < 0) {
            throw new IllegalArgumentException("afterSeq: " + afterSeq + " (expected: >= 0)");
        }
        requirePositive(limit, "limit");
        StringBuilder sql = new StringBuilder("SELECT " + AUDIT_COLUMNS + " FROM audit_event WHERE seq > ?");
        List<Object> args = new ArrayList<>();
        args.add(afterSeq);
        q.kind().ifPresent(k -> {
            sql.append(" AND kind = ?");
            args.add(k);
        });
        q.taskId().ifPresent(t -> {
            sql.append(" AND task_id = ?");
            args.add(t);
        });
        q.outcome().ifPresent(o -> {
            sql.append(" AND result = ?");
            args.add(o);
        });
        q.since().ifPresent(s -> {
            sql.append(" AND at >= ?");
            args.add(s.toEpochMilli());
        });
        q.until().ifPresent(u -> {
            sql.append(" AND at < ?");
            args.add(u.toEpochMilli());
        });
        q.identity().ifPresent(i -> {
            sql.append(" AND seq IN (SELECT seq FROM audit_identity WHERE identity = ? AND seq > ?)");
            args.add(i);
            args.add(afterSeq);
        });
        sql.append(" ORDER BY seq LIMIT ?");
        args.add(limit);
        return read("list audit events", c -> query(c, sql.toString(), rs -> {
            long seq = rs.getLong(1);
            try {
                return auditRecord(rs);
            } catch (IllegalArgumentException e) {
                throw new StoreException("audit event " + seq + " is unreadable: " + e.getMessage()
                        + "; run verifyAudit()", e);
            }
        }, args.toArray()));
    }

    // ---- upstream TLS posture and development-mode use -----------------------------------------------------

    @Override
    public void recordUpstreamTls(List<UpstreamTlsRecord> observations, Instant seenAt) {
        if (observations.isEmpty()) {
            return;
        }
        long now = seenAt.toEpochMilli();
        write("record " + observations.size() + " upstream TLS observations", null, c -> {
            for (UpstreamTlsRecord o : observations) {
                update(c, "INSERT INTO upstream_tls (workload, upstream, serial, protocol, cipher, peer_key_type, "
                                + "peer_key_bits, signature_algorithm, issuer, not_after, peer_id, first_seen, last_seen) "
                                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workload, upstream, serial) "
                                + "DO UPDATE SET protocol = excluded.protocol, cipher = excluded.cipher, "
                                + "peer_key_type = excluded.peer_key_type, peer_key_bits = excluded.peer_key_bits, "
                                + "signature_algorithm = excluded.signature_algorithm, issuer = excluded.issuer, "
                                + "not_after = excluded.not_after, peer_id = excluded.peer_id, last_seen = excluded.last_seen",
                        o.workload(), o.upstream(), o.serial(), o.protocol(), o.cipher(), o.peerKeyType(),
                        o.peerKeyBits(), o.signatureAlgorithm(), o.issuer(), o.notAfter().toEpochMilli(), o.peerId(),
                        now, now);
            }
            return null;
        });
    }

    @Override
    public List<UpstreamTlsRecord> upstreamTls(int limit) {
        requirePositive(limit, "limit");
        return read("list upstream TLS observations", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT workload, upstream, serial, protocol, cipher, "
                    + "peer_key_type, peer_key_bits, signature_algorithm, issuer, not_after, peer_id, first_seen, "
                    + "last_seen FROM upstream_tls ORDER BY last_seen DESC, workload, upstream, serial LIMIT ?")) {
                ps.setInt(1, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    List<UpstreamTlsRecord> out = new ArrayList<>();
                    while (rs.next()) {
                        out.add(new UpstreamTlsRecord(rs.getString(1), rs.getString(2), rs.getString(3),
                                rs.getString(4), rs.getString(5), rs.getString(6), rs.getInt(7), rs.getString(8),
                                rs.getString(9), instant(rs, 10), rs.getString(11), instant(rs, 12), instant(rs, 13)));
                    }
                    return out;
                }
            }
        });
    }

    @Override
    public int pruneUpstreamTls(Instant notSeenSince) {
        return write("prune upstream TLS observations", null,
                c -> update(c, "DELETE FROM upstream_tls WHERE last_seen < ?", notSeenSince.toEpochMilli()));
    }

    @Override
    public void countExemptUse(String workload, long uses, Instant at) {
        if (uses <= 0) {
            return;
        }
        long now = at.toEpochMilli();
        write("count credentials.exempt use of " + workload, null, c -> update(c,
                "INSERT INTO credential_exempt_use (workload, uses, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                        + "ON CONFLICT (workload) DO UPDATE SET uses = credential_exempt_use.uses + excluded.uses, "
                        + "last_seen = excluded.last_seen", workload, uses, now, now));
    }

    @Override
    public List<ExemptUseRecord> exemptUse(Instant since, int limit) {
        requirePositive(limit, "limit");
        return read("list credentials.exempt use", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT workload, uses, first_seen, last_seen FROM "
                    + "credential_exempt_use WHERE last_seen >= ? ORDER BY last_seen DESC, workload LIMIT ?")) {
                ps.setLong(1, since.toEpochMilli());
                ps.setInt(2, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    List<ExemptUseRecord> out = new ArrayList<>();
                    while (rs.next()) {
                        out.add(new ExemptUseRecord(rs.getString(1), rs.getLong(2), instant(rs, 3), instant(rs, 4)));
                    }
                    return out;
                }
            }
        });
    }

    /**
     * Recomputes the chain from the first event. Reports {@code (true, n, 0, "intact")} when every event links to
     * the one before, matches its own hash and the chain head; otherwise the first sequence number that does not
     * and why: an edited event, a missing one (deleted, a gap), a broken link (reordered or replaced), events cut
     * off the end, or events added past the head outside the store. {@code events} counts the stored events.
     */
    @Override
    public AuditVerification verifyAudit() {
        return read("verify the audit chain", c -> {
            // No snapshot needed: the head read first names events that are all committed; the head read last
            // covers events appended while scanning.
            long[] headSeqBefore = new long[1];
            String headHashBefore = head(c, headSeqBefore);
            ChainVerifier verifier = new ChainVerifier();
            // Inside inTransaction the connection is the transaction's: no commit here.
            boolean cursor = database == StoreSettings.Database.POSTGRESQL && currentTx.get() == null;
            if (cursor) {
                c.setAutoCommit(false); // PostgreSQL streams with a fetch size only inside a transaction
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT " + AUDIT_COLUMNS + " FROM audit_event ORDER BY seq")) {
                ps.setFetchSize(AUDIT_VERIFY_FETCH_SIZE);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        verifier.accept(rs);
                    }
                }
            }
            if (cursor) {
                c.commit(); // read-only; on failure the pool rolls back when the connection returns
                c.setAutoCommit(true);
            }
            long[] headSeqAfter = new long[1];
            String headHashAfter = head(c, headSeqAfter);
            return verifier.finish(headSeqBefore[0], headHashBefore, headSeqAfter[0], headHashAfter);
        });
    }

    @Override
    public Optional<String> auditHashAt(long seq) {
        return read("read the hash of audit event " + seq, c -> first(query(c,
                "SELECT hash FROM audit_event WHERE seq = ?", rs -> rs.getString(1), seq)));
    }

    @Override
    public AuditHead auditHead() {
        return read("read the audit chain head", c -> {
            long[] seq = new long[1];
            String hash = head(c, seq);
            return new AuditHead(seq[0], hash);
        });
    }

    @Override
    public AuditVerification verifyAuditFrom(long fromSeq, String fromHash) {
        if (fromSeq < 0) {
            throw new IllegalArgumentException("fromSeq: " + fromSeq + " (expected: >= 0)");
        }
        Objects.requireNonNull(fromHash, "fromHash: null (expected: a chain hash)");
        return read("verify the audit chain after event " + fromSeq, c -> {
            long[] headSeqBefore = new long[1];
            String headHashBefore = head(c, headSeqBefore);
            if (headSeqBefore[0] < fromSeq) {
                return new AuditVerification(false, 0, headSeqBefore[0] + 1, "the chain head is at event "
                        + headSeqBefore[0] + ", below event " + fromSeq + " (events cut off the end)");
            }
            ChainVerifier verifier = new ChainVerifier(fromSeq, fromHash);
            // Inside inTransaction the connection is the transaction's: no commit here.
            boolean cursor = database == StoreSettings.Database.POSTGRESQL && currentTx.get() == null;
            if (cursor) {
                c.setAutoCommit(false);
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT " + AUDIT_COLUMNS + " FROM audit_event WHERE seq > ? ORDER BY seq")) {
                ps.setFetchSize(AUDIT_VERIFY_FETCH_SIZE);
                ps.setLong(1, fromSeq);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        verifier.accept(rs);
                    }
                }
            }
            if (cursor) {
                c.commit();
                c.setAutoCommit(true);
            }
            long[] headSeqAfter = new long[1];
            String headHashAfter = head(c, headSeqAfter);
            return verifier.finish(headSeqBefore[0], headHashBefore, headSeqAfter[0], headHashAfter);
        });
    }

    // ---- audit checkpoints ----------------------------------------------------------------------------------

    private static final String CHECKPOINT_KEY_COLUMNS = "key_id, state, public_key_pem, encrypted_private_key_pem, "
            + "created_at, state_changed_at";
    private static final String CHECKPOINT_COLUMNS = "seq, head_hash, origin, at, key_id, signature";
    private static final String KEY_ACTIVE = "active";
    private static final String KEY_RETIRED = "retired";

    @Override
    public List<CheckpointKeyRecord> checkpointKeys() {
        return read("list checkpoint keys", c -> query(c, "SELECT " + CHECKPOINT_KEY_COLUMNS
                + " FROM audit_checkpoint_key ORDER BY created_at, key_id", rs -> new CheckpointKeyRecord(
                rs.getString(1), KEY_ACTIVE.equals(rs.getString(2)), rs.getString(3), rs.getString(4),
                instant(rs, 5), instant(rs, 6))));
    }

    @Override
    public boolean insertCheckpointKey(CheckpointKeyRecord k, boolean onlyIfNoneActive) {
        Objects.requireNonNull(k, "key: null (expected: non-null)");
        return write("insert checkpoint key " + k.keyId(), "checkpoint key " + k.keyId() + " already exists", c -> {
            increment(c, "audit_checkpoint_key"); // the row lock serialises key changes across replicas
            if (onlyIfNoneActive && !query(c, "SELECT key_id FROM audit_checkpoint_key WHERE state = ?",
                    rs -> rs.getString(1), KEY_ACTIVE).isEmpty()) {
                return false;
            }
            long at = millis(k.createdAt(), "key.createdAt");
            update(c, "UPDATE audit_checkpoint_key SET state = ?, state_changed_at = ? WHERE state = ?",
                    KEY_RETIRED, at, KEY_ACTIVE);
            update(c, "INSERT INTO audit_checkpoint_key (" + CHECKPOINT_KEY_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?)",
                    text(k.keyId(), "key.keyId"), k.active() ? KEY_ACTIVE : KEY_RETIRED,
                    text(k.publicKeyPem(), "key.publicKeyPem"),
                    text(k.encryptedPrivateKeyPem(), "key.encryptedPrivateKeyPem"), at,
                    millis(k.stateChangedAt(), "key.stateChangedAt"));
            return true;
        });
    }

    @Override
    public boolean insertAuditCheckpoint(AuditCheckpointRecord cp) {
        Objects.requireNonNull(cp, "checkpoint: null (expected: non-null)");
        if (cp.seq() < 1) {
            throw new IllegalArgumentException("checkpoint.seq: " + cp.seq() + " (expected: >= 1)");
        }
        return write("insert audit checkpoint " + cp.seq(), null, c -> {
            if (!query(c, "SELECT seq FROM audit_checkpoint WHERE seq = ?", rs -> rs.getLong(1), cp.seq()).isEmpty()) {
                return false;
            }
            update(c, "INSERT INTO audit_checkpoint (" + CHECKPOINT_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?)",
                    cp.seq(), text(cp.headHash(), "checkpoint.headHash"), text(cp.origin(), "checkpoint.origin"),
                    millis(cp.at(), "checkpoint.at"), text(cp.keyId(), "checkpoint.keyId"),
                    text(cp.signature(), "checkpoint.signature"));
            return true;
        });
    }

    @Override
    public Optional<AuditCheckpointRecord> latestAuditCheckpoint() {
        return read("read the latest audit checkpoint", c -> first(query(c, "SELECT " + CHECKPOINT_COLUMNS
                + " FROM audit_checkpoint ORDER BY seq DESC LIMIT 1", JdbcStore::checkpoint)));
    }

    @Override
    public List<AuditCheckpointRecord> auditCheckpoints(long afterSeq, int limit) {
        if (afterSeq < 0) {
            throw new IllegalArgumentException("afterSeq: " + afterSeq + " (expected: >= 0)");
        }
        requirePositive(limit, "limit");
        return read("list audit checkpoints", c -> query(c, "SELECT " + CHECKPOINT_COLUMNS
                + " FROM audit_checkpoint WHERE seq > ? ORDER BY seq LIMIT ?", JdbcStore::checkpoint, afterSeq,
                (long) limit));
    }

    @Override
    public List<CheckpointMatch> auditCheckpointMatches(long afterSeq, int limit) {
        if (afterSeq < 0) {
            throw new IllegalArgumentException("afterSeq: " + afterSeq + " (expected: >= 0)");
        }
        requirePositive(limit, "limit");
        return read("match audit checkpoints to the chain", c -> query(c, "SELECT c.seq, c.head_hash, c.origin, "
                + "c.at, c.key_id, c.signature, e.hash FROM audit_checkpoint c LEFT JOIN audit_event e "
                + "ON e.seq = c.seq WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
                rs -> new CheckpointMatch(checkpoint(rs), rs.getString(7)), afterSeq, (long) limit));
    }

    private static AuditCheckpointRecord checkpoint(ResultSet rs) throws SQLException {
        return new AuditCheckpointRecord(rs.getLong(1), rs.getString(2), rs.getString(3), instant(rs, 4),
                rs.getString(5), rs.getString(6));
    }

    private static String head(Connection c, long[] seq) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT seq, hash FROM audit_head WHERE id = 1");
             ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                throw new SQLException("the audit chain head row is missing");
            }
            seq[0] = rs.getLong(1);
            return rs.getString(2);
        }
    }

    /** Walks the events in sequence order and remembers the first that breaks the chain. */
    private static final class ChainVerifier {
        private long events;
        private long expectedSeq;
        private String prevHash;
        private long lastSeq;
        private String lastHash;
        private long firstBroken;
        private String reason;

        /** From the first event. */
        ChainVerifier() {
            this(0, AuditChain.GENESIS_HASH);
        }

        /** From the event after fromSeq, whose chain hash is fromHash. */
        ChainVerifier(long fromSeq, String fromHash) {
            expectedSeq = fromSeq + 1;
            prevHash = fromHash;
            lastSeq = fromSeq;
            lastHash = fromHash;
        }

        void accept(ResultSet rs) throws SQLException {
            events++;
            long seq = rs.getLong(1);
            String storedPrev = rs.getString(10);
            String storedHash = rs.getString(11);
            if (reason == null) {
                if (seq > expectedSeq) {
                    broken(expectedSeq, seq == expectedSeq + 1
                            ? "event " + expectedSeq + " is missing (deleted)"
                            : "events " + expectedSeq + " to " + (seq - 1) + " are missing (deleted)");
                } else if (seq < expectedSeq) {
                    broken(seq, "event " + seq + " is out of sequence (expected: " + expectedSeq
                            + "; inserted outside the store)");
                } else if (!prevHash.equals(storedPrev)) {
                    broken(seq, "event " + seq + " does not link to event " + (seq - 1)
                            + " (prev_hash differs: events reordered, replaced or removed)");
                } else {
                    String computed;
                    try {
                        computed = AuditChain.hash(storedPrev, auditRecord(rs).event());
                    } catch (IllegalArgumentException e) {
                        computed = null;
                    }
                    if (!storedHash.equals(computed)) {
                        broken(seq, "event " + seq + " does not match its hash (edited)");
                    }
                }
            }
            prevHash = storedHash;
            expectedSeq = seq + 1;
            lastSeq = seq;
            lastHash = storedHash;
        }

        AuditVerification finish(long headSeqBefore, String headHashBefore, long headSeqAfter, String headHashAfter) {
            if (reason == null) {
                if (lastSeq < headSeqBefore) {
                    broken(lastSeq + 1, "the chain head is at event " + headSeqBefore + " but the last event is "
                            + lastSeq + " (events deleted from the end)");
                } else if (lastSeq > headSeqAfter) {
                    broken(headSeqAfter + 1, "event " + (headSeqAfter + 1)
                            + " lies past the chain head (inserted outside the store)");
                } else if ((lastSeq == headSeqBefore && !lastHash.equals(headHashBefore))
                        || (lastSeq == headSeqAfter && !lastHash.equals(headHashAfter))) {
                    broken(lastSeq, "event " + lastSeq + " does not match the chain head's hash (edited)");
                }
            }
            return reason == null
                    ? new AuditVerification(true, events, 0, "intact")
                    : new AuditVerification(false, events, firstBroken, reason);
        }

        private void broken(long seq, String why) {
            firstBroken = seq;
            reason = why;
        }
    }

    // ---- revision log ---------------------------------------------------------------------------------------

    @Override
    public long appendRevision(String kind, String payloadJson, Instant at) {
        String k = text(kind, "kind");
        if (k.isBlank()) {
            throw new IllegalArgumentException("kind: '' (expected: a revision kind)");
        }
        String payload = text(payloadJson, "payloadJson");
        int bytes = payload.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_REVISION_PAYLOAD_BYTES) {
            throw new IllegalArgumentException("payloadJson: " + bytes + " bytes (expected: <= "
                    + MAX_REVISION_PAYLOAD_BYTES + ")");
        }
        try {
            Json.mapper().readTree(payload);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("payloadJson: not JSON (" + e.getOriginalMessage() + ")", e);
        }
        long created = millis(at, "at");
        return write("append a " + k + " revision", null, c -> {
            long revision = increment(c, "revision");
            update(c, "INSERT INTO revisions (revision, kind, payload, created_at) VALUES (?, ?, ?, ?)",
                    revision, k, payload, created);
            return revision;
        });
    }

    @Override
    public List<RevisionRecord> revisionsAfter(long after, int limit) {
        if (after < 0) {
            throw new IllegalArgumentException("after: " + after + " (expected: >= 0)");
        }
        requirePositive(limit, "limit");
        return read("list revisions", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT revision, kind, payload, created_at FROM revisions "
                    + "WHERE revision > ? ORDER BY revision LIMIT ?")) {
                ps.setLong(1, after);
                ps.setInt(2, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    List<RevisionRecord> out = new ArrayList<>();
                    while (rs.next()) {
                        out.add(new RevisionRecord(rs.getLong(1), rs.getString(2), rs.getString(3), instant(rs, 4)));
                    }
                    return out;
                }
            }
        });
    }

    @Override
    public long latestRevision() {
        return read("read the latest revision", c -> counter(c, "revision"));
    }

    @Override
    public long oldestRetainedRevision() {
        return read("read the oldest revision", c -> {
            // The counter first: a revision appended between the two reads is then at most counter + 1 away.
            long latest = counter(c, "revision");
            try (PreparedStatement ps = c.prepareStatement("SELECT MIN(revision) FROM revisions");
                 ResultSet rs = ps.executeQuery()) {
                long min = rs.next() ? rs.getLong(1) : 0; // MIN of no rows is NULL, read as 0
                return min == 0 ? latest + 1 : min;
            }
        });
    }

    @Override
    public Optional<RevisionRecord> latestRevisionOfKind(String kind) {
        String k = text(kind, "kind");
        return read("read the latest " + k + " revision", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT revision, kind, payload, created_at FROM revisions "
                    + "WHERE kind = ? ORDER BY revision DESC LIMIT 1")) {
                ps.setString(1, k);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next()
                            ? Optional.of(new RevisionRecord(rs.getLong(1), rs.getString(2), rs.getString(3), instant(rs, 4)))
                            : Optional.<RevisionRecord>empty();
                }
            }
        });
    }

    @Override
    public int pruneRevisionsBefore(long revision) {
        return write("prune revisions before " + revision, null,
                c -> update(c, "DELETE FROM revisions WHERE revision < ?", revision));
    }

    // ---- tasks ----------------------------------------------------------------------------------------------

    private static final String TASK_COLUMNS = "id, agent, scope_json, intent, state, created_by, created_at, "
            + "expires_at, ended_at";

    @Override
    public void insertTask(TaskRecord t) {
        Objects.requireNonNull(t, "task: null (expected: non-null)");
        List<Object> values = new ArrayList<>(List.of(text(t.id(), "task.id"), text(t.agent(), "task.agent"),
                text(t.scopeJson(), "task.scopeJson"), text(t.intent(), "task.intent"), name(t.state(), "task.state"),
                text(t.createdBy(), "task.createdBy"), millis(t.createdAt(), "task.createdAt"),
                millis(t.expiresAt(), "task.expiresAt")));
        String columns = TASK_COLUMNS;
        String marks = "?, ?, ?, ?, ?, ?, ?, ?, ?";
        if (t.endedAt() == null) {
            columns = columns.substring(0, columns.lastIndexOf(','));
            marks = marks.substring(0, marks.lastIndexOf(','));
        } else {
            values.add(t.endedAt().toEpochMilli());
        }
        String sql = "INSERT INTO task (" + columns + ") VALUES (" + marks + ")";
        write("insert task " + t.id(), "task " + t.id() + " already exists", c -> update(c, sql, values.toArray()));
    }

    @Override
    public Optional<TaskRecord> task(String id) {
        String key = text(id, "id");
        return read("read task " + id, c -> first(query(c, "SELECT " + TASK_COLUMNS + " FROM task WHERE id = ?",
                JdbcStore::taskRecord, key)));
    }

    @Override
    public List<TaskRecord> tasks(Optional<SpiffeId> agent, Optional<TaskState> state, int limit) {
        requirePositive(limit, "limit");
        StringBuilder sql = new StringBuilder("SELECT " + TASK_COLUMNS + " FROM task WHERE 1 = 1");
        List<Object> args = new ArrayList<>();
        agent.ifPresent(a -> {
            sql.append(" AND agent = ?");
            args.add(a.toString());
        });
        state.ifPresent(st -> {
            sql.append(" AND state = ?");
            args.add(st.name());
        });
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT ?");
        args.add((long) limit);
        return read("list tasks", c -> query(c, sql.toString(), JdbcStore::taskRecord, args.toArray()));
    }

    @Override
    public boolean endTask(String id, TaskState state, Instant at) {
        if (state == TaskState.ACTIVE) {
            throw new IllegalArgumentException("state: ACTIVE (expected: COMPLETED or EXPIRED)");
        }
        return write("end task " + id, null, c -> update(c,
                "UPDATE task SET state = ?, ended_at = ? WHERE id = ? AND state = 'ACTIVE'", name(state, "state"),
                millis(at, "at"), text(id, "id")) == 1);
    }

    @Override
    public List<TaskRecord> activeTasksExpiredBy(Instant now, int limit) {
        requirePositive(limit, "limit");
        long n = millis(now, "now");
        return read("list expired tasks", c -> query(c, "SELECT " + TASK_COLUMNS
                + " FROM task WHERE state = 'ACTIVE' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?",
                JdbcStore::taskRecord, n, (long) limit));
    }

    @Override
    public Optional<Workload> workloadForUpdate(SpiffeId id) {
        Objects.requireNonNull(id, "id");
        if (sqliteWriteLock == null && currentTx.get() != null) {
            read("lock workload " + id, c -> query(c, "SELECT spiffe_id FROM workload WHERE spiffe_id = ? FOR UPDATE",
                    rs -> rs.getString(1), id.toString()));
        }
        return workload(id);
    }

    @Override
    public LiveTasks liveTasks(SpiffeId agent, Instant now) {
        Objects.requireNonNull(agent, "agent");
        long n = millis(now, "now");
        return read("count live tasks of " + agent, c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT COUNT(*), MIN(expires_at) FROM task WHERE agent = ? AND expires_at > ?")) {
                ps.setString(1, agent.toString());
                ps.setLong(2, n);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long count = rs.getLong(1);
                    long earliest = rs.getLong(2);
                    return new LiveTasks(count, rs.wasNull() ? Optional.empty()
                            : Optional.of(Instant.ofEpochMilli(earliest)));
                }
            }
        });
    }

    private static TaskRecord taskRecord(ResultSet rs) throws SQLException {
        long ended = rs.getLong(9);
        Instant endedAt = rs.wasNull() ? null : Instant.ofEpochMilli(ended);
        return new TaskRecord(rs.getString(1), SpiffeId.parse(rs.getString(2)), rs.getString(3), rs.getString(4),
                TaskState.valueOf(rs.getString(5)), rs.getString(6), instant(rs, 7), instant(rs, 8), endedAt);
    }

    // ---- token signing keys ---------------------------------------------------------------------------------

    private static final String SIGNING_KEY_COLUMNS = "kid, state, public_jwk, encrypted_private_key_pem, "
            + "created_at, state_changed_at";

    @Override
    public void insertSigningKey(SigningKeyRecord k) {
        Objects.requireNonNull(k, "key: null (expected: non-null)");
        write("insert signing key " + k.kid(), "signing key " + k.kid() + " already exists", c -> update(c,
                "INSERT INTO signing_key (" + SIGNING_KEY_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?)",
                text(k.kid(), "key.kid"), name(k.state(), "key.state"), text(k.publicJwk(), "key.publicJwk"),
                text(k.encryptedPrivateKeyPem(), "key.encryptedPrivateKeyPem"), millis(k.createdAt(), "key.createdAt"),
                millis(k.stateChangedAt(), "key.stateChangedAt")));
    }

    @Override
    public List<SigningKeyRecord> signingKeys() {
        return read("list signing keys", c -> query(c, "SELECT " + SIGNING_KEY_COLUMNS
                + " FROM signing_key ORDER BY created_at, kid", rs -> new SigningKeyRecord(rs.getString(1),
                SigningKeyState.valueOf(rs.getString(2)), rs.getString(3), rs.getString(4), instant(rs, 5),
                instant(rs, 6))));
    }

    @Override
    public boolean updateSigningKeyState(String kid, SigningKeyState from, SigningKeyState to, Instant at) {
        return write("update signing key " + kid, null, c -> update(c,
                "UPDATE signing_key SET state = ?, state_changed_at = ? WHERE kid = ? AND state = ?",
                name(to, "to"), millis(at, "at"), text(kid, "kid"), name(from, "from")) == 1);
    }

    // ---- issued tokens --------------------------------------------------------------------------------------

    private static final String TOKEN_COLUMNS = "jti, task_id, kind, subject, audience, kid, issued_at, expires_at";

    @Override
    public void insertIssuedToken(IssuedTokenRecord t) {
        Objects.requireNonNull(t, "token: null (expected: non-null)");
        write("insert issued token", "token " + t.jti() + " already exists", c -> update(c,
                "INSERT INTO issued_token (" + TOKEN_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                text(t.jti(), "token.jti"), text(t.taskId(), "token.taskId"), text(t.kind(), "token.kind"),
                text(t.subject(), "token.subject"), text(t.audience(), "token.audience"), text(t.kid(), "token.kid"),
                millis(t.issuedAt(), "token.issuedAt"), millis(t.expiresAt(), "token.expiresAt")));
    }

    @Override
    public Optional<IssuedTokenRecord> issuedToken(String jti) {
        String key = text(jti, "jti");
        return read("read issued token", c -> first(query(c, "SELECT " + TOKEN_COLUMNS
                + " FROM issued_token WHERE jti = ?", JdbcStore::issuedTokenRecord, key)));
    }

    private static IssuedTokenRecord issuedTokenRecord(ResultSet rs) throws SQLException {
        return new IssuedTokenRecord(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                rs.getString(5), rs.getString(6), instant(rs, 7), instant(rs, 8));
    }

    @Override
    public Optional<Instant> latestTokenExpiryOfTask(String taskId) {
        return latestTokenExpiry("task_id", text(taskId, "taskId"));
    }

    @Override
    public Optional<Instant> latestTokenExpiryOfKey(String kid) {
        return latestTokenExpiry("kid", text(kid, "kid"));
    }

    @Override
    public Optional<Instant> latestSvidExpiry(SpiffeId id) {
        Objects.requireNonNull(id, "id");
        return read("read latest SVID expiry", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT MAX(not_after) FROM svid WHERE spiffe_id = ?")) {
                ps.setString(1, id.toString());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long v = rs.getLong(1);
                    return rs.wasNull() ? Optional.<Instant>empty() : Optional.of(Instant.ofEpochMilli(v));
                }
            }
        });
    }

    @Override
    public Optional<Instant> latestTokenExpiryOfSubject(String subject) {
        return latestTokenExpiry("subject", text(subject, "subject"));
    }

    private Optional<Instant> latestTokenExpiry(String column, String value) {
        return read("read latest token expiry", c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT MAX(expires_at) FROM issued_token WHERE " + column + " = ?")) {
                ps.setString(1, value);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long v = rs.getLong(1);
                    return rs.wasNull() ? Optional.<Instant>empty() : Optional.of(Instant.ofEpochMilli(v));
                }
            }
        });
    }

    // ---- revocations ----------------------------------------------------------------------------------------

    @Override
    public List<SvidRecord> svidSummaries(Optional<SpiffeId> id, List<String> kinds, Optional<Instant> unexpiredAt,
                                          int limit) {
        Objects.requireNonNull(id, "id: null (expected: non-null)");
        Objects.requireNonNull(kinds, "kinds: null (expected: non-null)");
        Objects.requireNonNull(unexpiredAt, "unexpiredAt: null (expected: non-null)");
        requirePositive(limit, "limit");
        StringBuilder sql = new StringBuilder("SELECT serial_hex, spiffe_id, ca_id, kind, public_key_fingerprint, "
                + "key_algorithm, key_bits, not_before, not_after, issued_at, '' FROM svid WHERE 1 = 1");
        List<Object> values = new ArrayList<>();
        id.ifPresent(x -> {
            sql.append(" AND spiffe_id = ?");
            values.add(x.toString());
        });
        inList(sql, values, "kind", kinds);
        unexpiredAt.ifPresent(t -> {
            sql.append(" AND not_after > ?");
            values.add(millis(t, "unexpiredAt"));
        });
        sql.append(" ORDER BY issued_at DESC, serial_hex DESC LIMIT ?");
        values.add((long) limit);
        return read("list SVIDs", c -> query(c, sql.toString(), JdbcStore::svid, values.toArray()));
    }

    @Override
    public List<IssuedTokenRecord> issuedTokens(Optional<String> taskId, Optional<String> subject, List<String> kinds,
                                                Optional<Instant> unexpiredAt, int limit) {
        Objects.requireNonNull(taskId, "taskId: null (expected: non-null)");
        Objects.requireNonNull(subject, "subject: null (expected: non-null)");
        Objects.requireNonNull(kinds, "kinds: null (expected: non-null)");
        Objects.requireNonNull(unexpiredAt, "unexpiredAt: null (expected: non-null)");
        requirePositive(limit, "limit");
        StringBuilder sql = new StringBuilder("SELECT " + TOKEN_COLUMNS + " FROM issued_token WHERE 1 = 1");
        List<Object> values = new ArrayList<>();
        taskId.ifPresent(t -> {
            sql.append(" AND task_id = ?");
            values.add(t);
        });
        subject.ifPresent(t -> {
            sql.append(" AND subject = ?");
            values.add(t);
        });
        inList(sql, values, "kind", kinds);
        unexpiredAt.ifPresent(t -> {
            sql.append(" AND expires_at > ?");
            values.add(millis(t, "unexpiredAt"));
        });
        sql.append(" ORDER BY issued_at DESC, jti DESC LIMIT ?");
        values.add((long) limit);
        return read("list issued tokens", c -> query(c, sql.toString(), JdbcStore::issuedTokenRecord, values.toArray()));
    }

    private static void inList(StringBuilder sql, List<Object> values, String column, List<String> in) {
        if (in.isEmpty()) {
            return;
        }
        sql.append(" AND ").append(column).append(" IN (");
        for (int i = 0; i < in.size(); i++) {
            sql.append(i == 0 ? "?" : ", ?");
            values.add(text(in.get(i), column));
        }
        sql.append(')');
    }

    @Override
    public KekIdentity kekIdentity(String candidateId, Instant now) {
        String id = text(candidateId, "candidateId");
        long at = millis(now, "now");
        return write("record the KEK identity", null, c -> {
            List<KekIdentity> rows = query(c, "SELECT id, created_at FROM kek_identity WHERE retired_at IS NULL "
                    + "ORDER BY created_at, id", rs -> new KekIdentity(rs.getString(1), instant(rs, 2)));
            if (!rows.isEmpty()) {
                return rows.get(0);
            }
            update(c, "INSERT INTO kek_identity (id, created_at) VALUES (?, ?)", id, at);
            return new KekIdentity(id, Instant.ofEpochMilli(at));
        });
    }

    @Override
    public List<KekRecord> keks() {
        return read("list KEKs", c -> query(c, "SELECT id, created_at, retired_at, check_value FROM kek_identity "
                + "ORDER BY created_at, id", rs -> new KekRecord(rs.getString(1), instant(rs, 2),
                optionalInstant(rs, 3), Optional.ofNullable(rs.getString(4)))));
    }

    @Override
    public boolean setKekCheckValue(String kekId, String checkValue) {
        String id = text(kekId, "kekId");
        String v = nonEmpty(checkValue, "checkValue");
        return write("record the KEK check value", null, c -> update(c,
                "UPDATE kek_identity SET check_value = ? WHERE id = ? AND check_value IS NULL", v, id) == 1);
    }

    /** The table, key column and sealed column of each kind of sealed item. */
    private static String[] sealedColumns(SealedKind kind) {
        return switch (kind) {
            case CA -> new String[] {"ca", "id", "encrypted_private_key_pem"};
            case SIGNING_KEY -> new String[] {"signing_key", "kid", "encrypted_private_key_pem"};
            case CHECKPOINT_KEY -> new String[] {"audit_checkpoint_key", "key_id", "encrypted_private_key_pem"};
            case UPSTREAM_SECRET -> new String[] {"upstream_secret", "name", "sealed_value"};
        };
    }

    @Override
    public List<SealedItem> sealedItems() {
        return read("list sealed items", c -> {
            List<SealedItem> items = new ArrayList<>();
            for (SealedKind k : SealedKind.values()) {
                String[] t = sealedColumns(k);
                String version = k == SealedKind.UPSTREAM_SECRET ? "version" : "0";
                items.addAll(query(c, "SELECT " + t[1] + ", " + version + ", " + t[2] + " FROM " + t[0]
                        + " ORDER BY " + t[1], rs -> new SealedItem(k, rs.getString(1), rs.getInt(2), rs.getString(3))));
            }
            return items;
        });
    }

    @Override
    public void resealUnderNewKek(List<SealedItem> before, List<SealedItem> after, KekIdentity next,
                                  String nextCheckValue, Instant at) {
        Objects.requireNonNull(before, "before: null (expected: non-null)");
        Objects.requireNonNull(after, "after: null (expected: non-null)");
        if (before.size() != after.size()) {
            throw new IllegalArgumentException("after: " + after.size() + " items (expected: " + before.size() + ")");
        }
        String nextId = text(next.id(), "next.id");
        long nextCreated = millis(next.createdAt(), "next.createdAt");
        String check = nonEmpty(nextCheckValue, "nextCheckValue");
        long atMillis = millis(at, "at");
        write("re-seal every sealed value under the new KEK", "KEK " + nextId + " exists already", c -> {
            for (int i = 0; i < before.size(); i++) {
                SealedItem b = before.get(i);
                SealedItem a = after.get(i);
                if (b.kind() != a.kind() || !b.id().equals(a.id())) {
                    throw new IllegalArgumentException("after[" + i + "]: " + a + " (expected: the same row as " + b + ")");
                }
                String[] t = sealedColumns(b.kind());
                String extra = b.kind() == SealedKind.UPSTREAM_SECRET ? ", sealed_by = '" + nextId.replace("'", "''") + "'" : "";
                if (update(c, "UPDATE " + t[0] + " SET " + t[2] + " = ?" + extra + " WHERE " + t[1] + " = ? AND "
                        + t[2] + " = ?", nonEmpty(a.sealed(), "sealed"), b.id(), b.sealed()) != 1) {
                    throw new SQLException(b.kind() + " " + b.id() + " changed or vanished during the re-sealing");
                }
            }
            update(c, "UPDATE kek_identity SET retired_at = ? WHERE retired_at IS NULL", atMillis);
            update(c, "INSERT INTO kek_identity (id, created_at, rotated_at, check_value) VALUES (?, ?, ?, ?)",
                    nextId, nextCreated, atMillis, check);
            return null;
        });
    }

    // ---- upstream secrets -----------------------------------------------------------------------------------

    private static final String SECRET_COLUMNS = "name, workload, upstream, exception_id, sealed_value, sealed_by, "
            + "version, human_owner, service_owner, rotation_period_ms, created_at, created_by, rotated_at, rotated_by, "
            + "last_used_at, uses, deleted_at, deleted_by";

    @Override
    public void insertUpstreamSecret(UpstreamSecretRecord s) {
        Objects.requireNonNull(s, "secret: null (expected: non-null)");
        write("insert upstream secret " + s.name(), "upstream secret " + s.name() + " exists already", c -> update(c,
                "INSERT INTO upstream_secret (" + SECRET_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        + "?, ?, ?, ?)", secretValues(s, false)));
    }

    @Override
    public boolean updateUpstreamSecret(UpstreamSecretRecord s) {
        Objects.requireNonNull(s, "secret: null (expected: non-null)");
        return write("update upstream secret " + s.name(), null, c -> update(c, "UPDATE upstream_secret SET "
                + "workload = ?, upstream = ?, exception_id = ?, sealed_value = ?, sealed_by = ?, version = ?, "
                + "human_owner = ?, service_owner = ?, rotation_period_ms = ?, created_at = ?, created_by = ?, "
                + "rotated_at = ?, rotated_by = ?, last_used_at = ?, uses = ?, deleted_at = ?, deleted_by = ? "
                + "WHERE name = ?", secretValues(s, true)) == 1);
    }

    private static Object[] secretValues(UpstreamSecretRecord s, boolean nameLast) {
        List<Object> v = new ArrayList<>();
        if (!nameLast) {
            v.add(nonEmpty(s.name(), "secret.name"));
        }
        v.add(text(s.workload(), "secret.workload"));
        v.add(nonEmpty(s.upstream(), "secret.upstream"));
        v.add(nonEmpty(s.exceptionId(), "secret.exceptionId"));
        v.add(nonEmpty(s.sealedValue(), "secret.sealedValue"));
        v.add(nonEmpty(s.sealedBy(), "secret.sealedBy"));
        v.add(s.version());
        v.add(text(s.humanOwner(), "secret.humanOwner"));
        v.add(text(s.serviceOwner(), "secret.serviceOwner"));
        v.add(durationMillis(s.rotationPeriod(), "secret.rotationPeriod"));
        v.add(millis(s.createdAt(), "secret.createdAt"));
        v.add(text(s.createdBy(), "secret.createdBy"));
        v.add(millis(s.rotatedAt(), "secret.rotatedAt"));
        v.add(text(s.rotatedBy(), "secret.rotatedBy"));
        v.add(s.lastUsedAt().<Object>map(Instant::toEpochMilli).orElse(NULL_BIGINT));
        v.add(s.uses());
        v.add(s.deletedAt().<Object>map(Instant::toEpochMilli).orElse(NULL_BIGINT));
        v.add(s.deletedBy().orElse(null));
        if (nameLast) {
            v.add(nonEmpty(s.name(), "secret.name"));
        }
        return v.toArray();
    }

    @Override
    public Optional<UpstreamSecretRecord> upstreamSecret(String name) {
        String n = text(name, "name");
        return read("read upstream secret", c -> first(query(c, "SELECT " + SECRET_COLUMNS
                + " FROM upstream_secret WHERE name = ?", JdbcStore::upstreamSecretRecord, n)));
    }

    @Override
    public List<UpstreamSecretRecord> upstreamSecrets(Optional<SpiffeId> workload, boolean includeDeleted, int limit) {
        requirePositive(limit, "limit");
        StringBuilder sql = new StringBuilder("SELECT " + SECRET_COLUMNS + " FROM upstream_secret WHERE 1 = 1");
        List<Object> values = new ArrayList<>();
        workload.ifPresent(w -> {
            sql.append(" AND workload = ?");
            values.add(w.toString());
        });
        if (!includeDeleted) {
            sql.append(" AND deleted_at IS NULL");
        }
        sql.append(" ORDER BY name LIMIT ?");
        values.add(limit);
        return read("list upstream secrets", c -> query(c, sql.toString(), JdbcStore::upstreamSecretRecord,
                values.toArray()));
    }

    @Override
    public long countUpstreamSecrets() {
        return read("count upstream secrets", c -> first(query(c, "SELECT COUNT(*) FROM upstream_secret "
                + "WHERE deleted_at IS NULL", rs -> rs.getLong(1))).orElse(0L));
    }

    @Override
    public boolean recordUpstreamSecretUse(String name, SpiffeId workload, long uses, Instant at) {
        String n = text(name, "name");
        String w = text(workload, "workload");
        if (uses <= 0) {
            throw new IllegalArgumentException("uses: " + uses + " (expected: > 0)");
        }
        long atMillis = millis(at, "at");
        return write("count uses of upstream secret " + n, null, c -> update(c, "UPDATE upstream_secret SET "
                + "uses = uses + ?, last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? THEN ? "
                + "ELSE last_used_at END WHERE name = ? AND workload = ? AND deleted_at IS NULL",
                uses, atMillis, atMillis, n, w) == 1);
    }

    private static UpstreamSecretRecord upstreamSecretRecord(ResultSet rs) throws SQLException {
        return new UpstreamSecretRecord(rs.getString(1), SpiffeId.parse(rs.getString(2)), rs.getString(3),
                rs.getString(4), rs.getString(5), rs.getString(6), rs.getInt(7), rs.getString(8), rs.getString(9),
                Duration.ofMillis(rs.getLong(10)), instant(rs, 11), rs.getString(12), instant(rs, 13),
                rs.getString(14), optionalInstant(rs, 15), rs.getLong(16), optionalInstant(rs, 17),
                Optional.ofNullable(rs.getString(18)));
    }

    private static Optional<Instant> optionalInstant(ResultSet rs, int column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(v));
    }

    // ---- asset owners ---------------------------------------------------------------------------------------

    private static final String OWNER_COLUMNS = "kind, id, human_owner, service_owner, purpose, "
            + "rotation_responsibility, revocation_responsibility, updated_at, updated_by";

    @Override
    public Optional<AssetOwner> assetOwner(String kind, String id) {
        return read("read asset owner", c -> first(query(c, "SELECT " + OWNER_COLUMNS
                + " FROM asset_owner WHERE kind = ? AND id = ?", JdbcStore::assetOwner, text(kind, "kind"), text(id, "id"))));
    }

    @Override
    public List<AssetOwner> assetOwners() {
        return read("list asset owners", c -> query(c, "SELECT " + OWNER_COLUMNS
                + " FROM asset_owner ORDER BY kind, id", JdbcStore::assetOwner));
    }

    @Override
    public Optional<AssetOwner> putAssetOwner(AssetOwner o) {
        Objects.requireNonNull(o, "owner: null (expected: non-null)");
        return write("set the owner of " + o.kind() + " " + o.id(), null, c -> {
            Optional<AssetOwner> before = first(query(c, "SELECT " + OWNER_COLUMNS
                    + " FROM asset_owner WHERE kind = ? AND id = ?", JdbcStore::assetOwner, o.kind(), o.id()));
            if (before.isPresent()) {
                update(c, "UPDATE asset_owner SET human_owner = ?, service_owner = ?, purpose = ?, "
                                + "rotation_responsibility = ?, revocation_responsibility = ?, updated_at = ?, updated_by = ? "
                                + "WHERE kind = ? AND id = ?", o.humanOwner(), o.serviceOwner(), o.purpose(),
                        o.rotationResponsibility(), o.revocationResponsibility(), millis(o.updatedAt(), "updatedAt"),
                        o.updatedBy(), o.kind(), o.id());
            } else {
                update(c, "INSERT INTO asset_owner (" + OWNER_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        o.kind(), o.id(), o.humanOwner(), o.serviceOwner(), o.purpose(), o.rotationResponsibility(),
                        o.revocationResponsibility(), millis(o.updatedAt(), "updatedAt"), o.updatedBy());
            }
            return before;
        });
    }

    private static AssetOwner assetOwner(ResultSet rs) throws SQLException {
        return new AssetOwner(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
                rs.getString(6), rs.getString(7), instant(rs, 8), rs.getString(9));
    }

    // ---- governance exceptions ------------------------------------------------------------------------------

    private static final String EXCEPTION_COLUMNS = "id, waive, workload, upstream, path_prefix, direction, asset_kind, "
            + "asset_id, justification, human_owner, requested_by, created_at, approved_by, approved_at, expires_at, "
            + "review_by, reviewed_by, reviewed_at, revoked_by, revoked_at, revoke_reason, uses, last_used_at";

    @Override
    public void insertException(ExceptionRecord e) {
        Objects.requireNonNull(e, "exception: null (expected: non-null)");
        if (e.approvedAt() != null || e.revokedAt() != null || e.reviewedAt() != null || e.uses() != 0) {
            throw new IllegalArgumentException("exception " + e.id() + ": a new exception is neither approved, "
                    + "reviewed, revoked nor used");
        }
        write("insert exception " + e.id(), "exception " + e.id() + " exists", c -> update(c,
                "INSERT INTO governance_exception (id, waive, workload, upstream, path_prefix, direction, asset_kind, "
                        + "asset_id, justification, human_owner, requested_by, created_at, expires_at, review_by) "
                        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                text(e.id(), "exception.id"), text(e.waive(), "exception.waive"), e.workload(), e.upstream(),
                e.pathPrefix(), e.direction(), e.assetKind(), e.assetId(),
                text(e.justification(), "exception.justification"), text(e.humanOwner(), "exception.humanOwner"),
                text(e.requestedBy(), "exception.requestedBy"), millis(e.createdAt(), "exception.createdAt"),
                millis(e.expiresAt(), "exception.expiresAt"), millis(e.reviewBy(), "exception.reviewBy")));
    }

    @Override
    public Optional<ExceptionRecord> exception(String id) {
        String i = text(id, "id");
        return read("read exception", c -> first(query(c, "SELECT " + EXCEPTION_COLUMNS
                + " FROM governance_exception WHERE id = ?", JdbcStore::exceptionRecord, i)));
    }

    @Override
    public List<ExceptionRecord> exceptions(Optional<String> workload, int limit) {
        requirePositive(limit, "limit");
        return read("list exceptions", c -> workload.isPresent()
                ? query(c, "SELECT " + EXCEPTION_COLUMNS + " FROM governance_exception WHERE workload = ? "
                        + "ORDER BY created_at DESC, id DESC LIMIT ?", JdbcStore::exceptionRecord, workload.get(), limit)
                : query(c, "SELECT " + EXCEPTION_COLUMNS + " FROM governance_exception "
                        + "ORDER BY created_at DESC, id DESC LIMIT ?", JdbcStore::exceptionRecord, limit));
    }

    @Override
    public boolean approveException(String id, String by, Instant at) {
        long t = millis(at, "at");
        return write("approve exception " + id, null, c -> update(c, "UPDATE governance_exception SET approved_by = ?, "
                        + "approved_at = ? WHERE id = ? AND approved_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
                text(by, "by"), t, text(id, "id"), t) == 1);
    }

    @Override
    public boolean reviewException(String id, String by, Instant at, Instant nextReviewBy) {
        return write("review exception " + id, null, c -> update(c, "UPDATE governance_exception SET reviewed_by = ?, "
                        + "reviewed_at = ?, review_by = ? WHERE id = ? AND revoked_at IS NULL", text(by, "by"),
                millis(at, "at"), millis(nextReviewBy, "nextReviewBy"), text(id, "id")) == 1);
    }

    @Override
    public boolean revokeException(String id, String by, Instant at, String reason) {
        return write("revoke exception " + id, null, c -> update(c, "UPDATE governance_exception SET revoked_by = ?, "
                        + "revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL", text(by, "by"),
                millis(at, "at"), text(reason, "reason"), text(id, "id")) == 1);
    }

    @Override
    public boolean addExceptionUses(String id, long count, Instant at) {
        if (count < 0) {
            throw new IllegalArgumentException("count: " + count + " (expected: >= 0)");
        }
        long t = millis(at, "at");
        return write("count uses of exception " + id, null, c -> update(c, "UPDATE governance_exception SET "
                        + "uses = uses + ?, last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? THEN ? "
                        + "ELSE last_used_at END WHERE id = ?", count, t, t, text(id, "id")) == 1);
    }

    private static ExceptionRecord exceptionRecord(ResultSet rs) throws SQLException {
        return new ExceptionRecord(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                rs.getString(5), rs.getString(6), rs.getString(7), rs.getString(8), rs.getString(9), rs.getString(10),
                rs.getString(11), instant(rs, 12), rs.getString(13), optionalInstant(rs, 14).orElse(null), instant(rs, 15),
                instant(rs, 16), rs.getString(17), optionalInstant(rs, 18).orElse(null), rs.getString(19), optionalInstant(rs, 20).orElse(null),
                rs.getString(21), rs.getLong(22), optionalInstant(rs, 23).orElse(null));
    }

    private static final String REVOCATION_COLUMNS = "type, value, reason, actor, at, expires_at";

    @Override
    public boolean insertRevocation(RevocationRecord r) {
        Objects.requireNonNull(r, "revocation: null (expected: non-null)");
        String type = text(r.type(), "revocation.type");
        String value = text(r.value(), "revocation.value");
        long at = millis(r.at(), "revocation.at");
        return write("insert revocation", null, c -> {
            update(c, "DELETE FROM revocation WHERE type = ? AND value = ? AND expires_at <= ?", type, value, at);
            return update(c, "INSERT INTO revocation (" + REVOCATION_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?) "
                            + "ON CONFLICT (type, value) DO NOTHING", type, value, text(r.reason(), "revocation.reason"),
                    text(r.actor(), "revocation.actor"), at, millis(r.expiresAt(), "revocation.expiresAt")) == 1;
        });
    }

    @Override
    public Optional<RevocationRecord> revocation(String type, String value) {
        String t = text(type, "type");
        String v = text(value, "value");
        return read("read revocation", c -> first(query(c, "SELECT " + REVOCATION_COLUMNS
                + " FROM revocation WHERE type = ? AND value = ?", JdbcStore::revocationRecord, t, v)));
    }

    @Override
    public List<RevocationRecord> revocations(Instant now, int limit) {
        requirePositive(limit, "limit");
        long n = millis(now, "now");
        return read("list revocations", c -> query(c, "SELECT " + REVOCATION_COLUMNS
                + " FROM revocation WHERE expires_at > ? ORDER BY at, type, value LIMIT ?",
                JdbcStore::revocationRecord, n, (long) limit));
    }

    @Override
    public List<RevocationRecord> revocations(Instant now, String type, int limit) {
        requirePositive(limit, "limit");
        long n = millis(now, "now");
        String t = text(type, "type");
        return read("list revocations of a type", c -> query(c, "SELECT " + REVOCATION_COLUMNS
                + " FROM revocation WHERE expires_at > ? AND type = ? ORDER BY at, value LIMIT ?",
                JdbcStore::revocationRecord, n, t, (long) limit));
    }

    @Override
    public int deleteRevocationsExpiredBy(Instant now) {
        long n = millis(now, "now");
        return write("drop expired revocations", null,
                c -> update(c, "DELETE FROM revocation WHERE expires_at <= ?", n));
    }

    private static RevocationRecord revocationRecord(ResultSet rs) throws SQLException {
        return new RevocationRecord(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                instant(rs, 5), instant(rs, 6));
    }

    // ---- policy versions ------------------------------------------------------------------------------------

    private static final String POLICY_COLUMNS = "p.id, p.version, p.digest, p.yaml, p.uploaded_by, p.uploaded_at, "
            + "p.activated_at, CASE WHEN h.version_id = p.id THEN 1 ELSE 0 END";
    private static final String POLICY_FROM = " FROM policy_version p CROSS JOIN policy_head h WHERE h.id = 1";

    @Override
    public PolicyActivation activatePolicy(String version, String digest, String yaml, String uploadedBy,
                                           Instant at) {
        String v = nonEmpty(version, "version");
        String d = nonEmpty(digest, "digest");
        String y = nonEmpty(yaml, "yaml");
        String by = nonEmpty(uploadedBy, "uploadedBy");
        long now = millis(at, "at");
        return write("activate policy " + d, null, c -> {
            // Locks the head row until commit: activations from every connection and replica are serialised.
            if (update(c, "UPDATE policy_head SET version_id = version_id WHERE id = 1") != 1) {
                throw new SQLException("the policy head row is missing");
            }
            Optional<PolicyVersionRecord> previous = first(query(c, "SELECT " + POLICY_COLUMNS + POLICY_FROM
                    + " AND p.id = h.version_id", JdbcStore::policyVersion));
            Optional<PolicyVersionRecord> existing = first(query(c, "SELECT " + POLICY_COLUMNS + POLICY_FROM
                    + " AND p.digest = ?", JdbcStore::policyVersion, d));
            if (existing.isPresent() && existing.get().current()) {
                return new PolicyActivation(existing.get(), previous, false);
            }
            long id;
            if (existing.isPresent()) {
                id = existing.get().id();
                update(c, "UPDATE policy_version SET activated_at = ? WHERE id = ?", now, id);
            } else {
                id = increment(c, "policy_version");
                update(c, "INSERT INTO policy_version (id, version, digest, yaml, uploaded_by, uploaded_at, "
                        + "activated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", id, v, d, y, by, now, now);
            }
            update(c, "UPDATE policy_head SET version_id = ? WHERE id = 1", id);
            PolicyVersionRecord current = first(query(c, "SELECT " + POLICY_COLUMNS + POLICY_FROM + " AND p.id = ?",
                    JdbcStore::policyVersion, id)).orElseThrow(() -> new SQLException("policy version " + id
                    + " vanished"));
            return new PolicyActivation(current, previous, existing.isEmpty());
        });
    }

    @Override
    public Optional<PolicyVersionRecord> currentPolicy() {
        return read("read the current policy", c -> first(query(c, "SELECT " + POLICY_COLUMNS + POLICY_FROM
                + " AND p.id = h.version_id", JdbcStore::policyVersion)));
    }

    @Override
    public Optional<PolicyVersionRecord> policyVersion(String digest) {
        String d = text(digest, "digest");
        return read("read policy version", c -> first(query(c, "SELECT " + POLICY_COLUMNS + POLICY_FROM
                + " AND p.digest = ?", JdbcStore::policyVersion, d)));
    }

    @Override
    public List<PolicyVersionRecord> policyVersions(int limit) {
        requirePositive(limit, "limit");
        return read("list policy versions", c -> query(c, "SELECT " + POLICY_COLUMNS + POLICY_FROM
                + " ORDER BY p.id DESC LIMIT ?", JdbcStore::policyVersion, (long) limit));
    }

    private static PolicyVersionRecord policyVersion(ResultSet rs) throws SQLException {
        return new PolicyVersionRecord(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4),
                rs.getString(5), instant(rs, 6), instant(rs, 7), rs.getInt(8) == 1);
    }

    private static String nonEmpty(String value, String name) {
        String v = text(value, name);
        if (v.isEmpty()) {
            throw new IllegalArgumentException(name + ": empty (expected: non-empty)");
        }
        return v;
    }

    @FunctionalInterface
    private interface RowMapper<T> {
        T map(ResultSet rs) throws SQLException;
    }

    private static <T> List<T> query(Connection c, String sql, RowMapper<T> mapper, Object... values)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < values.length; i++) {
                Object v = values[i];
                if (v instanceof Long l) {
                    ps.setLong(i + 1, l);
                } else if (v instanceof Integer n) {
                    ps.setLong(i + 1, n);
                } else {
                    ps.setString(i + 1, (String) v);
                }
            }
            try (ResultSet rs = ps.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (rs.next()) {
                    out.add(mapper.map(rs));
                }
                return out;
            }
        }
    }

    private static <T> Optional<T> first(List<T> rows) {
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
    }

    // ---- lifecycle ------------------------------------------------------------------------------------------

    @Override
    public void close() {
        closed = true;
        dataSource.close();
    }

    @Override
    public String toString() {
        return "JdbcStore[" + describe(settings) + (closed ? ", closed" : "") + "]";
    }

    // ---- transactions ---------------------------------------------------------------------------------------

    @FunctionalInterface
    private interface SqlWork<T> {
        T run(Connection c) throws SQLException;
    }

    /**
     * Runs the work in one transaction and returns after it committed; on any failure rolls it back.
     *
     * @param conflict the message of the {@link StoreConflictException} a unique violation becomes, or null
     */
    private <T> T write(String what, String conflict, SqlWork<T> work) {
        ensureOpen(what);
        Tx tx = currentTx.get();
        if (tx != null) {
            return joined(tx, what, conflict, work);
        }
        boolean locked = sqliteWriteLock != null && tryLock(sqliteWriteLock, what);
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false); // SQLite: BEGIN IMMEDIATE, waiting up to busy_timeout for other processes
            try {
                if (forceSynchronousCommit) {
                    try (Statement s = c.createStatement()) {
                        s.execute("SET LOCAL synchronous_commit TO on");
                    }
                }
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException | Error e) {
                rollback(c, e);
                throw e;
            }
        } catch (SQLException e) {
            throw translate(what, conflict, e);
        } finally {
            if (locked) {
                sqliteWriteLock.unlock();
            }
        }
    }

    private <T> T read(String what, SqlWork<T> work) {
        ensureOpen(what);
        Tx tx = currentTx.get();
        if (tx != null) {
            return joined(tx, what, null, work);
        }
        try (Connection c = dataSource.getConnection()) {
            return work.run(c);
        } catch (SQLException e) {
            throw translate(what, null, e);
        }
    }

    /** One open transaction: its connection, and what runs once it committed. */
    private static final class Tx {
        final Connection connection;
        final List<Runnable> afterCommit = new ArrayList<>();
        boolean failed;

        Tx(Connection connection) {
            this.connection = connection;
        }
    }

    /** Runs one store call inside the open transaction; a failure marks the whole transaction failed. */
    private static <T> T joined(Tx tx, String what, String conflict, SqlWork<T> work) {
        if (tx.failed) {
            throw new StoreException(what + ": an earlier statement of this transaction failed", null);
        }
        try {
            return work.run(tx.connection);
        } catch (SQLException e) {
            tx.failed = true;
            throw translate(what, conflict, e);
        } catch (RuntimeException | Error e) {
            tx.failed = true;
            throw e;
        }
    }

    @Override
    public <T> T inTransaction(String what, Supplier<T> work) {
        Objects.requireNonNull(work, "work: null (expected: non-null)");
        if (currentTx.get() != null) {
            return work.get();
        }
        List<Runnable> after = new ArrayList<>();
        T result = write(what, null, c -> {
            Tx tx = new Tx(c);
            currentTx.set(tx);
            try {
                T r = work.get();
                if (tx.failed) {
                    // A store call failed and the work swallowed it: PostgreSQL has aborted the transaction already,
                    // and committing a part of an operation is what this primitive exists to prevent.
                    throw new StoreException(what + ": a store call inside the transaction failed", null);
                }
                after.addAll(tx.afterCommit);
                return r;
            } finally {
                currentTx.remove();
            }
        });
        for (Runnable action : after) {
            try {
                action.run();
            } catch (RuntimeException e) {
                LOG.error("{}: an action after commit failed", what, e);
            }
        }
        return result;
    }

    @Override
    public void afterCommit(Runnable action) {
        Objects.requireNonNull(action, "action: null (expected: non-null)");
        Tx tx = currentTx.get();
        if (tx == null) {
            action.run();
        } else {
            tx.afterCommit.add(action);
        }
    }

    @Override
    public boolean inTransaction() {
        return currentTx.get() != null;
    }

    private static boolean tryLock(ReentrantLock lock, String what) {
        try {
            if (lock.tryLock(SQLITE_WRITE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                return true;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException(what + ": interrupted while waiting for the SQLite write lock", e);
        }
        throw new StoreException(what + ": the SQLite write lock was not free within "
                + SQLITE_WRITE_WAIT.toSeconds() + "s", null);
    }

    private void ensureOpen(String what) {
        if (closed) {
            throw new StoreException(what + ": the store is closed", null);
        }
    }

    private static void rollback(Connection c, Throwable cause) {
        try {
            c.rollback();
        } catch (SQLException e) {
            cause.addSuppressed(e);
        }
    }

    private static StoreException translate(String what, String conflict, SQLException e) {
        if (conflict != null && isUniqueViolation(e)) {
            return new StoreConflictException(conflict);
        }
        return new StoreException(what + " failed: " + e.getMessage(), e);
    }

    private static boolean isUniqueViolation(SQLException e) {
        for (SQLException x = e; x != null; x = x.getNextException()) {
            if ("23505".equals(x.getSQLState())) { // PostgreSQL unique_violation
                return true;
            }
            if (x instanceof SQLiteException s && (s.getResultCode() == SQLiteErrorCode.SQLITE_CONSTRAINT_PRIMARYKEY
                    || s.getResultCode() == SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE)) {
                return true;
            }
        }
        return false;
    }

    // ---- SQL helpers ----------------------------------------------------------------------------------------

    /** A NULL for a BIGINT column (PostgreSQL refuses a VARCHAR-typed NULL there). */
    private static final Object NULL_BIGINT = new Object();

    private static int update(Connection c, String sql, Object... values) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < values.length; i++) {
                Object v = values[i];
                if (v instanceof Long l) {
                    ps.setLong(i + 1, l);
                } else if (v instanceof Integer n) {
                    ps.setInt(i + 1, n);
                } else if (v == NULL_BIGINT) {
                    ps.setNull(i + 1, java.sql.Types.BIGINT);
                } else if (v == null) {
                    ps.setNull(i + 1, java.sql.Types.VARCHAR);
                } else {
                    ps.setString(i + 1, (String) v);
                }
            }
            return ps.executeUpdate();
        }
    }

    private static long increment(Connection c, String counter) throws SQLException {
        if (update(c, "UPDATE counter SET value = value + 1 WHERE name = ?", counter) != 1) {
            throw new SQLException("counter " + counter + " is missing");
        }
        return counter(c, counter);
    }

    private static long counter(Connection c, String counter) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT value FROM counter WHERE name = ?")) {
            ps.setString(1, counter);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("counter " + counter + " is missing");
                }
                return rs.getLong(1);
            }
        }
    }

    private static String text(Object value, String name) {
        if (value == null) {
            throw new NullPointerException(name + ": null (expected: non-null)");
        }
        return value.toString();
    }

    private static String name(Enum<?> value, String name) {
        if (value == null) {
            throw new NullPointerException(name + ": null (expected: non-null)");
        }
        return value.name();
    }

    private static long millis(Instant value, String name) {
        if (value == null) {
            throw new NullPointerException(name + ": null (expected: non-null)");
        }
        return value.toEpochMilli();
    }

    private static long durationMillis(Duration value, String name) {
        if (value == null) {
            throw new NullPointerException(name + ": null (expected: non-null)");
        }
        return value.toMillis();
    }

    private static void requirePositive(int value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
    }

    // ---- row mapping ----------------------------------------------------------------------------------------

    private static CaRecord ca(ResultSet rs) throws SQLException {
        return new CaRecord(rs.getString(1), CaState.valueOf(rs.getString(2)), rs.getString(3), rs.getString(4),
                rs.getString(5), instant(rs, 6), instant(rs, 7), rs.getString(8), instant(rs, 9), instant(rs, 10));
    }

    private static Workload workload(ResultSet rs) throws SQLException {
        List<String> tools;
        try {
            tools = JSON.readValue(rs.getString(5), STRING_LIST);
        } catch (JsonProcessingException e) {
            throw new SQLException("workload " + rs.getString(1) + " has unreadable tools: " + e.getMessage(), e);
        }
        return new Workload(SpiffeId.parse(rs.getString(1)), rs.getString(2), rs.getString(3), rs.getString(4),
                tools, Duration.ofMillis(rs.getLong(6)), Duration.ofMillis(rs.getLong(7)), instant(rs, 8),
                instant(rs, 9));
    }

    private static SvidRecord svid(ResultSet rs) throws SQLException {
        return new SvidRecord(rs.getString(1), SpiffeId.parse(rs.getString(2)), rs.getString(3), rs.getString(4),
                rs.getString(5), rs.getString(6), rs.getInt(7), instant(rs, 8), instant(rs, 9), instant(rs, 10),
                rs.getString(11));
    }

    /** @throws IllegalArgumentException when the stored details are not a JSON object of plain values */
    private static AuditRecord auditRecord(ResultSet rs) throws SQLException {
        AuditEvent event = new AuditEvent(instant(rs, 2), rs.getString(3), rs.getString(4), rs.getString(5),
                rs.getString(6), rs.getString(7), rs.getString(8), AuditChain.parseDetails(rs.getString(9)));
        return new AuditRecord(rs.getLong(1), event, rs.getString(10), rs.getString(11));
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        return Instant.ofEpochMilli(rs.getLong(column));
    }

    private static String describe(StoreSettings settings) {
        return settings.database() == StoreSettings.Database.SQLITE
                ? settings.jdbcUrl()
                : settings.jdbcUrl().replaceAll("(?i)(password=)[^&;]*", "$1***");
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + root.getMessage() + ")";
    }
}
