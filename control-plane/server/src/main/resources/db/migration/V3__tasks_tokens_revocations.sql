-- Tasks, token signing keys, issued token ids and revocations. Independent of V2 (the revision log): it neither
-- reads nor alters V2's tables, so it applies before or after V2 (JdbcStore migrates with outOfOrder).

CREATE TABLE task (
    id          TEXT   NOT NULL PRIMARY KEY,
    agent       TEXT   NOT NULL,
    scope_json  TEXT   NOT NULL,
    intent      TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    created_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX task_by_created_at ON task (created_at, id);
CREATE INDEX task_by_state_expiry ON task (state, expires_at);

-- The private key is an encrypted PKCS#8 PEM sealed with the CA's key-encryption key; the public part a JWK.
CREATE TABLE signing_key (
    kid                        TEXT   NOT NULL PRIMARY KEY,
    state                      TEXT   NOT NULL,
    public_jwk                 TEXT   NOT NULL,
    encrypted_private_key_pem  TEXT   NOT NULL,
    created_at                 BIGINT NOT NULL,
    state_changed_at           BIGINT NOT NULL
);

-- Every token id issued, never the token itself.
CREATE TABLE issued_token (
    jti        TEXT   NOT NULL PRIMARY KEY,
    task_id    TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    audience   TEXT   NOT NULL,
    kid        TEXT   NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX issued_token_by_task ON issued_token (task_id, expires_at);
CREATE INDEX issued_token_by_kid ON issued_token (kid, expires_at);
CREATE INDEX issued_token_by_subject ON issued_token (subject, expires_at);

-- One row per revoked value; revoking it again changes nothing. expires_at: after it nothing the revocation
-- covers can be valid, so the row may be dropped.
CREATE TABLE revocation (
    type       TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    reason     TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (type, value)
);
CREATE INDEX revocation_by_expiry ON revocation (expires_at);
