-- The station ledger (台账). Codes are the natural keys: they come from the county's own
-- registers (poor-village codes, station codes) and never change, so references use them.
-- Decimals (capacities, prices, shares, money) are TEXT holding exact decimal strings:
-- SQLite has no decimal type and REAL would round. Dates are TEXT 'YYYY-MM-DD'.

CREATE TABLE areas (
    code              TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    level             TEXT NOT NULL CHECK (level IN ('county', 'township', 'village')),
    parent_code       TEXT REFERENCES areas (code),
    -- Only for villages: the code in the poverty register and the household status.
    poor_village_code TEXT,
    status            TEXT CHECK (status IN ('poor', 'exited', 'monitored'))
) STRICT;
CREATE INDEX areas_parent ON areas (parent_code);

CREATE TABLE stations (
    code                 TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('village', 'joint', 'centralized', 'household')),
    -- Where the station stands (a village, or a township/county for joint and centralized ones);
    -- who owns its income is in shares.
    area_code            TEXT NOT NULL REFERENCES areas (code),
    dc_capacity_kwp      TEXT NOT NULL,
    ac_capacity_kw       TEXT,
    latitude             REAL,
    longitude            REAL,
    tilt_deg             REAL,
    -- Compass bearing of the modules, 180 = due south.
    azimuth_deg          REAL,
    commissioning_date   TEXT,
    grid_connection_date TEXT,
    subsidy_batch        TEXT,
    investment_yuan      TEXT,
    funding_source       TEXT,
    om_body              TEXT,
    om_person            TEXT,
    om_phone             TEXT
) STRICT;
CREATE INDEX stations_area ON stations (area_code);

-- Tariff in force from valid_from until the next row of the same station.
CREATE TABLE tariffs (
    station_code    TEXT NOT NULL REFERENCES stations (code),
    valid_from      TEXT NOT NULL,
    total_price     TEXT NOT NULL,
    benchmark_price TEXT NOT NULL,
    PRIMARY KEY (station_code, valid_from)
) STRICT;

-- Ownership: all rows of one (station_code, valid_from) form one complete set that sums to
-- exactly 1 and is in force until the station's next set.
CREATE TABLE shares (
    station_code TEXT NOT NULL REFERENCES stations (code),
    valid_from   TEXT NOT NULL,
    village_code TEXT NOT NULL REFERENCES areas (code),
    share        TEXT NOT NULL,
    basis        TEXT NOT NULL CHECK (basis IN ('capacity', 'investment', 'equal', 'other')),
    PRIMARY KEY (station_code, valid_from, village_code)
) STRICT;

CREATE TABLE gateways (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    area_code       TEXT REFERENCES areas (code),
    -- Argon2 PHC string; the credential itself is never stored.
    credential_hash TEXT NOT NULL
) STRICT;

CREATE TABLE devices (
    -- Compact surrogate key for telemetry rows; the code is the natural key.
    id           INTEGER PRIMARY KEY,
    code         TEXT NOT NULL UNIQUE,
    station_code TEXT NOT NULL REFERENCES stations (code),
    kind         TEXT NOT NULL CHECK (kind IN ('inverter', 'meter', 'weather')),
    vendor       TEXT,
    model        TEXT,
    serial       TEXT,
    rated_ac_kw  TEXT,
    dc_kwp       TEXT,
    protocol     TEXT NOT NULL CHECK (protocol IN ('modbus', 'mqtt')),
    host         TEXT,
    port         INTEGER,
    unit_id      INTEGER,
    profile      TEXT,
    gateway_code TEXT REFERENCES gateways (code)
) STRICT;
CREATE INDEX devices_station ON devices (station_code);
CREATE INDEX devices_gateway ON devices (gateway_code);

-- Append-only trail of every state change (过程可追溯). Never updated or deleted.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- JSON document with what changed (counts, totals before/after).
    detail  TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Raw telemetry, one row per device and timestamp (epoch milliseconds, UTC).
CREATE TABLE readings (
    device_id          INTEGER NOT NULL,
    ts                 INTEGER NOT NULL,
    received_at        INTEGER NOT NULL,
    ac_power_w         REAL,
    dc_power_w         REAL,
    energy_total_kwh   REAL,
    export_energy_kwh  REAL,
    grid_voltage_v     REAL,
    frequency_hz       REAL,
    temperature_c      REAL,
    irradiance_poa_wm2 REAL,
    module_temp_c      REAL,
    ambient_temp_c     REAL,
    status             TEXT,
    fault_code         TEXT,
    -- Bit flags set by validation (counter glitch, implausible jump...); 0 = good.
    quality            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, ts)
) STRICT, WITHOUT ROWID;
-- County-wide time range scans (rollups, "who reported in the last hour").
CREATE INDEX readings_ts ON readings (ts);
