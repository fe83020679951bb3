-- Every operator certificate the control plane issued (POST /v1/operators and the bootstrap admin credential):
-- its role, the person it was issued to and who issued it, so operator credentials are an inventory of their own
-- (GET /v1/operators). The certificate itself is in svid (same serial). Independent of V5 and V6: it neither reads
-- nor alters their tables.
CREATE TABLE operator_credential (
    serial_hex TEXT   NOT NULL PRIMARY KEY,
    spiffe_id  TEXT   NOT NULL,
    role       TEXT   NOT NULL,
    issued_to  TEXT   NOT NULL,
    issued_by  TEXT   NOT NULL,
    issued_at  BIGINT NOT NULL,
    not_after  BIGINT NOT NULL
);
CREATE INDEX operator_credential_by_id ON operator_credential (spiffe_id, issued_at);
