-- Upstream secrets for credential injection (docs/governance.md): the value sealed under the key-encryption key
-- (AES-256-GCM with a PBKDF2 key from the KEK, the secret's name and version as associated data), never stored in
-- clear and never returned but to the bound workload. A deleted secret keeps its row (deleted_at set) so that its
-- name cannot be taken again by another binding. Times are epoch milliseconds.
CREATE TABLE upstream_secret (
    name               TEXT    NOT NULL PRIMARY KEY,
    workload           TEXT    NOT NULL,
    upstream           TEXT    NOT NULL,
    exception_id       TEXT    NOT NULL,
    sealed_value       TEXT    NOT NULL,
    sealed_by          TEXT    NOT NULL,
    version            INTEGER NOT NULL,
    human_owner        TEXT    NOT NULL,
    service_owner      TEXT    NOT NULL,
    rotation_period_ms BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL,
    created_by         TEXT    NOT NULL,
    rotated_at         BIGINT  NOT NULL,
    rotated_by         TEXT    NOT NULL,
    last_used_at       BIGINT,
    uses               BIGINT  NOT NULL DEFAULT 0,
    deleted_at         BIGINT,
    deleted_by         TEXT
);
CREATE INDEX upstream_secret_by_workload ON upstream_secret (workload);

-- KEK rotation: every KEK this database was sealed under keeps its row; the current one has retired_at NULL.
-- check_value is a constant sealed under that KEK, so that a control plane started with a retired (or a wrong) KEK
-- is refused with a message that says which.
ALTER TABLE kek_identity ADD COLUMN rotated_at BIGINT;
ALTER TABLE kek_identity ADD COLUMN retired_at BIGINT;
ALTER TABLE kek_identity ADD COLUMN check_value TEXT;
