-- Audit views and upstream TLS posture (docs/audit.md, docs/governance.md). Independent of V10 and V11: it only
-- adds indexes to audit_event (V1) and new tables. No hashed column of audit_event is touched.

-- Server-side filters of GET /v1/audit page by seq within each filter.
CREATE INDEX audit_event_by_kind ON audit_event (kind, seq);
CREATE INDEX audit_event_by_task ON audit_event (task_id, seq);
CREATE INDEX audit_event_by_result ON audit_event (result, seq);
CREATE INDEX audit_event_by_at ON audit_event (at, seq);

-- Every SPIFFE ID an event is attributed to (its actor, its subject, and from its details the refused peer
-- 'peer' and a denied token's subject 'sub'), written with the event; outside the hash chain (an index, not a fact).
-- Events written before this migration are attributed by their actor and subject columns only.
CREATE TABLE audit_identity (
    identity TEXT   NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (identity, seq)
);
-- Appends first drop rows above the chain head (left by events cut off the end), so a reused seq is never
-- attributed by what the cut event said.
CREATE INDEX audit_identity_by_seq ON audit_identity (seq);
INSERT INTO audit_identity (identity, seq)
    SELECT actor, seq FROM audit_event WHERE actor LIKE 'spiffe://%';
INSERT INTO audit_identity (identity, seq)
    SELECT subject, seq FROM audit_event WHERE subject LIKE 'spiffe://%' AND subject <> actor;

-- What sidecars saw of their upstreams' TLS, one row per (reporting workload, upstream, peer certificate serial);
-- the other columns hold the latest observation. Pruned when not seen for posture.upstream-tls-retention.
CREATE TABLE upstream_tls (
    workload            TEXT    NOT NULL,
    upstream            TEXT    NOT NULL,
    serial              TEXT    NOT NULL,
    protocol            TEXT    NOT NULL,
    cipher              TEXT    NOT NULL,
    peer_key_type       TEXT    NOT NULL,
    peer_key_bits       INTEGER NOT NULL,
    signature_algorithm TEXT    NOT NULL,
    issuer              TEXT    NOT NULL,
    not_after           BIGINT  NOT NULL,
    peer_id             TEXT,
    first_seen          BIGINT  NOT NULL,
    last_seen           BIGINT  NOT NULL,
    PRIMARY KEY (workload, upstream, serial)
);
CREATE INDEX upstream_tls_by_last_seen ON upstream_tls (last_seen);

-- Requests a sidecar let through under its local credentials.exempt list (development mode), counted per workload.
CREATE TABLE credential_exempt_use (
    workload   TEXT   NOT NULL PRIMARY KEY,
    uses       BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
