-- Ingest: refused input (dead letters) and energy rollups.

-- Everything ingest refused, with the reason and the raw input, for an operator to list.
CREATE TABLE rejections (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL,
    -- 'mqtt:<topic>' or 'http'
    source      TEXT NOT NULL,
    gateway     TEXT,
    device      TEXT,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    -- The whole payload, or the one refused reading as JSON.
    payload     TEXT NOT NULL
);
CREATE INDEX rejections_received ON rejections (received_at DESC);

-- Energy per device and UTC hour, recomputed from raw readings whenever readings of that
-- hour (or the reading just before it) arrive, so late data lands in place. A hypertable
-- under TimescaleDB (never subject to the raw retention policy).
CREATE TABLE energy_hourly (
    device_id          BIGINT NOT NULL,
    hour               TIMESTAMPTZ NOT NULL,
    energy_kwh         DOUBLE PRECISION NOT NULL,
    peak_power_w       DOUBLE PRECISION,
    samples            INTEGER NOT NULL,
    -- Weather stations: plane-of-array irradiation, kWh/m2.
    irradiation_kwh_m2 DOUBLE PRECISION,
    -- Counter intervals not counted as production (decrease, implausible jump).
    bad_intervals      INTEGER NOT NULL,
    -- 'counter' (validated lifetime-counter deltas) or 'power' (integrated AC power).
    source             TEXT NOT NULL,
    PRIMARY KEY (device_id, hour)
);

-- The same per local day (time.zone).
CREATE TABLE energy_daily (
    device_id          BIGINT NOT NULL,
    day                DATE NOT NULL,
    energy_kwh         DOUBLE PRECISION NOT NULL,
    peak_power_w       DOUBLE PRECISION,
    samples            INTEGER NOT NULL,
    irradiation_kwh_m2 DOUBLE PRECISION,
    bad_intervals      INTEGER NOT NULL,
    PRIMARY KEY (device_id, day)
);
CREATE INDEX energy_daily_day ON energy_daily (day);
