-- Ingest: refused input (dead letters) and energy rollups. Instants are INTEGER
-- milliseconds since the Unix epoch (UTC); days are TEXT 'YYYY-MM-DD' in the configured zone.

-- Everything ingest refused, with the reason and the raw input, for an operator to list.
CREATE TABLE rejections (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    -- 'mqtt:<topic>' or 'http'
    source      TEXT NOT NULL,
    gateway     TEXT,
    device      TEXT,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    -- The whole payload, or the one refused reading as JSON.
    payload     TEXT NOT NULL
) STRICT;
CREATE INDEX rejections_received ON rejections (received_at);

-- Energy per device and UTC hour, recomputed from raw readings whenever readings of that
-- hour (or the reading just before it) arrive, so late data lands in place.
CREATE TABLE energy_hourly (
    device_id          INTEGER NOT NULL,
    hour               INTEGER NOT NULL,
    energy_kwh         REAL NOT NULL,
    peak_power_w       REAL,
    samples            INTEGER NOT NULL,
    -- Weather stations: plane-of-array irradiation, kWh/m2.
    irradiation_kwh_m2 REAL,
    -- Counter intervals not counted as production (decrease, implausible jump).
    bad_intervals      INTEGER NOT NULL,
    -- 'counter' (validated lifetime-counter deltas) or 'power' (integrated AC power).
    source             TEXT NOT NULL,
    PRIMARY KEY (device_id, hour)
) STRICT, WITHOUT ROWID;

-- The same per local day.
CREATE TABLE energy_daily (
    device_id          INTEGER NOT NULL,
    day                TEXT NOT NULL,
    energy_kwh         REAL NOT NULL,
    peak_power_w       REAL,
    samples            INTEGER NOT NULL,
    irradiation_kwh_m2 REAL,
    bad_intervals      INTEGER NOT NULL,
    PRIMARY KEY (device_id, day)
) STRICT, WITHOUT ROWID;
CREATE INDEX energy_daily_day ON energy_daily (day);
