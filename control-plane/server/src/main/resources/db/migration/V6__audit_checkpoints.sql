-- Signed checkpoints of the audit chain head and the keys that sign them. Independent of V2 to V5: it neither reads
-- nor alters their tables (JdbcStore migrates with outOfOrder).

-- Serialises key creation and rotation across connections and replicas (UPDATE ... SET value = value + 1 first).
INSERT INTO counter (name, value) VALUES ('audit_checkpoint_key', 0);

-- Checkpoint signing keys (ECDSA P-256). key_id is the lower-case hex SHA-256 of the public key's DER
-- SubjectPublicKeyInfo; the private key is an encrypted PKCS#8 PEM sealed with the key-encryption key. Keys are
-- never deleted: a retired key still verifies the checkpoints it signed.
CREATE TABLE audit_checkpoint_key (
    key_id                    TEXT   NOT NULL PRIMARY KEY,
    state                     TEXT   NOT NULL,
    public_key_pem            TEXT   NOT NULL,
    encrypted_private_key_pem TEXT   NOT NULL,
    created_at                BIGINT NOT NULL,
    state_changed_at          BIGINT NOT NULL
);

-- One signed checkpoint per chain length: seq is the sequence number of the last event it covers and head_hash
-- that event's chain hash. signature: base64 DER ECDSA-SHA256 over the checkpoint's signed text (see
-- dev.tollgate.api.AuditCheckpoints).
CREATE TABLE audit_checkpoint (
    seq       BIGINT NOT NULL PRIMARY KEY,
    head_hash TEXT   NOT NULL,
    origin    TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    key_id    TEXT   NOT NULL,
    signature TEXT   NOT NULL
);
