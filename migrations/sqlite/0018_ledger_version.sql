-- A counter that every change to the ledger's areas, stations and devices moves on, in the
-- change's own transaction (issue 7). API processes keep those three tables in memory
-- (ledger::cache) and compare this number with their copy's on each request. A trigger,
-- not application code, so that every writer bumps it: the API, `pvledger import`, another
-- process, or an operator in the sqlite3 shell. SQLite's triggers run per row.
CREATE TABLE ledger_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO ledger_version (id, version) VALUES (1, 0);

CREATE TRIGGER areas_ledger_version_insert AFTER INSERT ON areas
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER areas_ledger_version_update AFTER UPDATE ON areas
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER areas_ledger_version_delete AFTER DELETE ON areas
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER stations_ledger_version_insert AFTER INSERT ON stations
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER stations_ledger_version_update AFTER UPDATE ON stations
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER stations_ledger_version_delete AFTER DELETE ON stations
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER devices_ledger_version_insert AFTER INSERT ON devices
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER devices_ledger_version_update AFTER UPDATE ON devices
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER devices_ledger_version_delete AFTER DELETE ON devices
    BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; END;
