-- The inventory: join tokens can be revoked before use, and assets that belong to no workload (CA slots, the
-- key-encryption key, token signing keys, operator credentials) get owners set by an operator. Independent of the
-- other migrations' tables but join_token (V1), which it only extends.

ALTER TABLE join_token ADD COLUMN revoked_at BIGINT;
ALTER TABLE join_token ADD COLUMN revoked_by TEXT;
CREATE INDEX join_token_by_workload ON join_token (spiffe_id, created_at);

-- Owners of one asset (kind, id), or of every asset of a kind that has none of its own (id '*').
CREATE TABLE asset_owner (
    kind                      TEXT   NOT NULL,
    id                        TEXT   NOT NULL,
    human_owner               TEXT   NOT NULL,
    service_owner             TEXT   NOT NULL,
    purpose                   TEXT   NOT NULL,
    rotation_responsibility   TEXT   NOT NULL,
    revocation_responsibility TEXT   NOT NULL,
    updated_at                BIGINT NOT NULL,
    updated_by                TEXT   NOT NULL,
    PRIMARY KEY (kind, id)
);
