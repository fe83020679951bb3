-- Exceptions: time-boxed, scoped, owned waivers (docs/governance.md). A row is written when an operator requests
-- one and updated on approval, review and revocation; its state at a time is derived from these columns and the
-- clock (requested: approved_at NULL and revoked_at NULL; active: approved, not revoked, now < expires_at; expired;
-- revoked). Times are epoch milliseconds. Independent of every other table.
CREATE TABLE governance_exception (
    id             TEXT   NOT NULL PRIMARY KEY,
    waive          TEXT   NOT NULL,
    workload       TEXT,
    upstream       TEXT,
    path_prefix    TEXT,
    direction      TEXT,
    asset_kind     TEXT,
    asset_id       TEXT,
    justification  TEXT   NOT NULL,
    human_owner    TEXT   NOT NULL,
    requested_by   TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    approved_by    TEXT,
    approved_at    BIGINT,
    expires_at     BIGINT NOT NULL,
    review_by      BIGINT NOT NULL,
    reviewed_by    TEXT,
    reviewed_at    BIGINT,
    revoked_by     TEXT,
    revoked_at     BIGINT,
    revoke_reason  TEXT,
    uses           BIGINT NOT NULL DEFAULT 0,
    last_used_at   BIGINT
);
CREATE INDEX governance_exception_by_workload ON governance_exception (workload, expires_at);
CREATE INDEX governance_exception_by_expiry ON governance_exception (expires_at);
