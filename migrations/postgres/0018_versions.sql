-- Counters that every change to what API processes keep in memory moves on, in the
-- change's own transaction (issue 7): `ledger` for areas, stations and devices
-- (ledger::cache), `accounts` for users and API tokens (auth::token_cache). A process
-- reads this one row on each request and reloads what has changed: one primary-key read
-- instead of paging, counting and area-tree walks over the province and a token lookup.
-- Triggers, not application code, so that every writer moves them: the API, `pvledger
-- import` or `pvledger user`, another process, or an operator in psql.
CREATE TABLE versions (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    ledger   BIGINT NOT NULL,
    accounts BIGINT NOT NULL
);
INSERT INTO versions (id, ledger, accounts) VALUES (1, 0, 0);

-- Once per statement; the row lock they take is held to commit, so concurrent changes of
-- the ledger or of accounts commit one after the other (they are rare: imports, edits by
-- staff, and logins, which write a user's failure count).
CREATE FUNCTION bump_ledger_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE versions SET ledger = ledger + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE FUNCTION bump_accounts_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE versions SET accounts = accounts + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER areas_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON areas
    FOR EACH STATEMENT EXECUTE FUNCTION bump_ledger_version();
CREATE TRIGGER stations_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_ledger_version();
CREATE TRIGGER devices_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_ledger_version();
CREATE TRIGGER users_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_accounts_version();
CREATE TRIGGER api_tokens_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_accounts_version();
