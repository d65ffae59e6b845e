-- Use plans and monthly settlements. Money is exact decimal 元 as TEXT (2 decimals).

-- A village's plan for a year: percentages of its income per permitted use (三类用途).
CREATE TABLE use_plans (
    village_code TEXT NOT NULL REFERENCES areas (code),
    year         INTEGER NOT NULL,
    jobs         TEXT NOT NULL,   -- 公益岗位 %
    works        TEXT NOT NULL,   -- 小型公益事业 %
    rewards      TEXT NOT NULL,   -- 奖励补助 %
    other        TEXT NOT NULL,   -- 其他 % (where the county allows it)
    PRIMARY KEY (village_code, year)
) STRICT;

-- One settlement per county and month: draft -> reviewed -> approved. Only a draft may be
-- recomputed (replaced); reviewed and approved ones are immutable.
CREATE TABLE settlements (
    -- AUTOINCREMENT: ids of replaced drafts are never reused (the audit log names them).
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    county_code       TEXT NOT NULL REFERENCES areas (code),
    period            TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('draft', 'reviewed', 'approved')),
    income_mode       TEXT NOT NULL,
    distributable_yuan TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (county_code, period)
) STRICT;

CREATE TABLE settlement_stations (
    settlement_id          INTEGER NOT NULL REFERENCES settlements (id) ON DELETE CASCADE,
    station_code           TEXT NOT NULL,
    energy_kwh             TEXT NOT NULL,
    energy_source          TEXT NOT NULL,
    benchmark_price        TEXT NOT NULL,
    subsidy_price          TEXT NOT NULL,
    benchmark_income_yuan  TEXT NOT NULL,
    subsidy_accrued_yuan   TEXT NOT NULL,
    subsidy_received_yuan  TEXT NOT NULL,
    deductions_yuan        TEXT NOT NULL,
    carried_deficit_yuan   TEXT NOT NULL,
    distributable_yuan     TEXT NOT NULL,
    deficit_out_yuan       TEXT NOT NULL,
    telemetry_kwh          TEXT,
    reconcile_diff_percent TEXT,
    reconcile_flag         INTEGER NOT NULL,
    PRIMARY KEY (settlement_id, station_code)
) STRICT;

CREATE TABLE settlement_villages (
    settlement_id INTEGER NOT NULL REFERENCES settlements (id) ON DELETE CASCADE,
    village_code  TEXT NOT NULL,
    station_code  TEXT NOT NULL,
    share         TEXT NOT NULL,
    amount_yuan   TEXT NOT NULL,
    PRIMARY KEY (settlement_id, village_code, station_code)
) STRICT;

CREATE TABLE settlement_uses (
    settlement_id INTEGER NOT NULL REFERENCES settlements (id) ON DELETE CASCADE,
    village_code  TEXT NOT NULL,
    use_code      TEXT NOT NULL,
    percent       TEXT NOT NULL,
    amount_yuan   TEXT NOT NULL,
    PRIMARY KEY (settlement_id, village_code, use_code)
) STRICT;
