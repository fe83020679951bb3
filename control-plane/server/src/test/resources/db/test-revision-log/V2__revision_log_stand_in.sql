-- Test only: stands in for the revision log's V2 migration (another branch) to prove that V3 does not depend
-- on the order in which the two are applied.
CREATE TABLE revision_log_stand_in (revision BIGINT NOT NULL PRIMARY KEY);
