-- Alerts for field technicians and the problem ledger (问题台账). Instants are INTEGER
-- milliseconds since the Unix epoch (UTC), like the telemetry tables.

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    -- silent, inverter_fault, zero_output, under_producing, counter_anomaly,
    -- rejection_flood, grid_outage (docs/ALERTS.md).
    rule            TEXT NOT NULL,
    -- What the alert is about: 'device:CODE', 'station:CODE', 'gateway:CODE' or
    -- 'township:CODE'. One open alert per (rule, subject).
    subject         TEXT NOT NULL,
    station_code    TEXT,
    device_code     TEXT,
    gateway_code    TEXT,
    -- The township (grouped alerts) or the station's area.
    area_code       TEXT,
    -- The station's O&M body (管护主体) when the alert opened: who must act.
    om_body         TEXT,
    severity        TEXT NOT NULL CHECK (severity IN ('critical', 'major', 'minor')),
    status          TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    -- Chinese text for people; evidence as JSON (the figures the rule saw).
    title           TEXT NOT NULL,
    detail          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    opened_at       INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_at     INTEGER,
    resolved_by     TEXT,
    resolution_note TEXT
) STRICT;
-- The guarantee of one open alert per (rule, subject), also against two evaluators.
CREATE UNIQUE INDEX alerts_one_open ON alerts (rule, subject) WHERE status <> 'resolved';
CREATE INDEX alerts_station ON alerts (station_code);
CREATE INDEX alerts_status ON alerts (status);

-- Every change of every alert (the rectification history, 逐项销号): opened, acknowledged,
-- resolved (by the evaluator or by hand with a note), notified, notification failed.
CREATE TABLE alert_events (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       INTEGER NOT NULL,
    -- 'system:alerts' for the evaluator and the notifier, 'user:NAME' or 'cli:USER' otherwise.
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    note     TEXT
) STRICT;
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

-- Readings flagged by counter validation (zero glitch, decrease, jump) are few: this
-- partial index lets the counter-anomaly rule count them per device without a scan.
CREATE INDEX readings_flagged ON readings (ts) WHERE quality <> 0;
