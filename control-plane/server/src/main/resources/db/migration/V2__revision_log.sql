-- The revision log sidecars watch (GET /v1/watch): what they must know (trust bundle, signing keys, revocations,
-- policy), numbered by the 'revision' counter. The counter's row lock (PostgreSQL) or the single writer (SQLite)
-- is held until commit, so revisions commit in number order: a reader that has seen revision n and then reads
-- "revision > n" misses none, whichever replica appended them.
INSERT INTO counter (name, value) VALUES ('revision', 0);

CREATE TABLE revisions (
    revision   BIGINT NOT NULL PRIMARY KEY,
    kind       TEXT   NOT NULL,
    payload    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
-- The latest revision of a kind (the latest published trust bundle, checked before publishing another).
CREATE INDEX revisions_by_kind ON revisions (kind, revision);
