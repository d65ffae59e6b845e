-- A counter that every change to the ledger's areas, stations and devices moves on, in the
-- change's own transaction (issue 7). API processes keep those three tables in memory
-- (ledger::cache) and compare this number with their copy's on each request: one
-- primary-key read instead of paging, counting and area-tree walks over the province.
-- A trigger, not application code, so that every writer bumps it: the API, `pvledger
-- import`, another process, or an operator in psql.
CREATE TABLE ledger_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO ledger_version (id, version) VALUES (1, 0);

-- Once per statement; the row lock it takes is held to commit, so concurrent ledger
-- changes commit one after the other (they are rare: imports and edits by staff).
CREATE FUNCTION bump_ledger_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER areas_ledger_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON areas
    FOR EACH STATEMENT EXECUTE FUNCTION bump_ledger_version();
CREATE TRIGGER stations_ledger_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_ledger_version();
CREATE TRIGGER devices_ledger_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_ledger_version();
