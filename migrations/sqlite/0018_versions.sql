-- Counters that every change to what API processes keep in memory moves on, in the
-- change's own transaction (issue 7): `ledger` for areas, stations and devices
-- (ledger::cache), `accounts` for users and API tokens (auth::token_cache). A process
-- reads this one row on each request and reloads what has changed. Triggers, not
-- application code, so that every writer moves them: the API, `pvledger import` or
-- `pvledger user`, another process, or an operator in the sqlite3 shell. SQLite's
-- triggers run per row.
CREATE TABLE versions (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    ledger   INTEGER NOT NULL,
    accounts INTEGER NOT NULL
);
INSERT INTO versions (id, ledger, accounts) VALUES (1, 0, 0);


CREATE TRIGGER areas_version_insert AFTER INSERT ON areas
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;
CREATE TRIGGER areas_version_update AFTER UPDATE ON areas
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;
CREATE TRIGGER areas_version_delete AFTER DELETE ON areas
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;

CREATE TRIGGER stations_version_insert AFTER INSERT ON stations
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;
CREATE TRIGGER stations_version_update AFTER UPDATE ON stations
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;
CREATE TRIGGER stations_version_delete AFTER DELETE ON stations
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;

CREATE TRIGGER devices_version_insert AFTER INSERT ON devices
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;
CREATE TRIGGER devices_version_update AFTER UPDATE ON devices
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;
CREATE TRIGGER devices_version_delete AFTER DELETE ON devices
    BEGIN UPDATE versions SET ledger = ledger + 1 WHERE id = 1; END;

CREATE TRIGGER users_version_insert AFTER INSERT ON users
    BEGIN UPDATE versions SET accounts = accounts + 1 WHERE id = 1; END;
CREATE TRIGGER users_version_update AFTER UPDATE ON users
    BEGIN UPDATE versions SET accounts = accounts + 1 WHERE id = 1; END;
CREATE TRIGGER users_version_delete AFTER DELETE ON users
    BEGIN UPDATE versions SET accounts = accounts + 1 WHERE id = 1; END;

CREATE TRIGGER api_tokens_version_insert AFTER INSERT ON api_tokens
    BEGIN UPDATE versions SET accounts = accounts + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_version_update AFTER UPDATE ON api_tokens
    BEGIN UPDATE versions SET accounts = accounts + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_version_delete AFTER DELETE ON api_tokens
    BEGIN UPDATE versions SET accounts = accounts + 1 WHERE id = 1; END;
