-- Policy versions operators upload (PUT /v1/policy). Each distinct document (by the SHA-256 digest of its exact
-- text) is stored once; uploading a stored document again makes that version current again. Independent of V2 and
-- V3: it neither reads nor alters their tables.
INSERT INTO counter (name, value) VALUES ('policy_version', 0);

CREATE TABLE policy_version (
    id           BIGINT NOT NULL PRIMARY KEY,
    version      TEXT   NOT NULL,
    digest       TEXT   NOT NULL UNIQUE,
    yaml         TEXT   NOT NULL,
    uploaded_by  TEXT   NOT NULL,
    uploaded_at  BIGINT NOT NULL,
    activated_at BIGINT NOT NULL
);

-- The current policy: one row, whose version_id names the current policy_version (NULL: none uploaded yet).
-- Activations update this row first, so its row lock (PostgreSQL) or the single writer (SQLite) serialises them
-- across connections and replicas.
CREATE TABLE policy_head (
    id         INTEGER NOT NULL PRIMARY KEY,
    version_id BIGINT
);
INSERT INTO policy_head (id, version_id) VALUES (1, NULL);
