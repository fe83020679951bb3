-- Tollgate control-plane state. One schema for SQLite and PostgreSQL: only portable types and statements.
-- Instants are epoch milliseconds (BIGINT), durations are milliseconds, PEMs and JSON are TEXT.
-- No foreign keys on purpose: an issued certificate stays in the inventory after its workload is deleted,
-- and join tokens and certificates may name identities that are not registered workloads.

-- Named counters, each updated with "UPDATE ... SET value = value + 1": the row lock (PostgreSQL) or the
-- single writer (SQLite) makes every increment atomic across connections and replicas.
CREATE TABLE counter (
    name  TEXT   NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counter (name, value) VALUES ('bundle_sequence', 0);
INSERT INTO counter (name, value) VALUES ('ca_position', 0);

CREATE TABLE ca (
    id                        TEXT   NOT NULL PRIMARY KEY,
    position                  BIGINT NOT NULL UNIQUE,
    state                     TEXT   NOT NULL,
    certificate_chain_pem     TEXT   NOT NULL,
    encrypted_private_key_pem TEXT   NOT NULL,
    trust_anchor_pem          TEXT   NOT NULL,
    not_before                BIGINT NOT NULL,
    not_after                 BIGINT NOT NULL,
    source                    TEXT   NOT NULL,
    created_at                BIGINT NOT NULL,
    state_changed_at          BIGINT NOT NULL
);

CREATE TABLE workload (
    spiffe_id       TEXT   NOT NULL PRIMARY KEY,
    human_owner     TEXT   NOT NULL,
    service_owner   TEXT   NOT NULL,
    purpose         TEXT   NOT NULL,
    tools_json      TEXT   NOT NULL,
    max_svid_ttl_ms BIGINT NOT NULL,
    max_task_ttl_ms BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE join_token (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    spiffe_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    used_at    BIGINT
);

CREATE TABLE svid (
    serial_hex             TEXT    NOT NULL PRIMARY KEY,
    spiffe_id              TEXT    NOT NULL,
    ca_id                  TEXT    NOT NULL,
    kind                   TEXT    NOT NULL,
    public_key_fingerprint TEXT    NOT NULL,
    key_algorithm          TEXT    NOT NULL,
    key_bits               INTEGER NOT NULL,
    not_before             BIGINT  NOT NULL,
    not_after              BIGINT  NOT NULL,
    issued_at              BIGINT  NOT NULL,
    certificate_pem        TEXT    NOT NULL
);
CREATE INDEX svid_by_issued_at ON svid (issued_at, serial_hex);
CREATE INDEX svid_by_identity ON svid (spiffe_id, issued_at, serial_hex);
CREATE INDEX svid_by_ca_expiry ON svid (ca_id, not_after);

-- The audit hash chain: hash = hex(SHA-256(prev_hash || canonical JSON of the event)).
-- recorded_at (the store's clock at append) is kept for forensics and is not part of the hash.
CREATE TABLE audit_event (
    seq          BIGINT NOT NULL PRIMARY KEY,
    at           BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    actor        TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    result       TEXT   NOT NULL,
    task_id      TEXT,
    details_json TEXT   NOT NULL,
    prev_hash    TEXT   NOT NULL,
    hash         TEXT   NOT NULL,
    recorded_at  BIGINT NOT NULL
);

-- The head of the chain, one row. Appends lock it (UPDATE first), so there is exactly one chain even with
-- several writers, and a verifier can tell when events were cut off the end.
CREATE TABLE audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
