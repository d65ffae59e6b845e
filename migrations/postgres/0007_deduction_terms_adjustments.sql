-- Per-station deduction terms, effective-dated; NULL = the county default (configuration).
CREATE TABLE station_deductions (
    station_code            TEXT NOT NULL REFERENCES stations (code),
    valid_from              DATE NOT NULL,
    om_yuan_per_kwp_year    NUMERIC,
    om_percent              NUMERIC,
    land_rent_yuan_per_year NUMERIC,
    insurance_yuan_per_year NUMERIC,
    vat_rate                NUMERIC,
    vat_refund_share        NUMERIC,
    note                    TEXT,
    imported_at             TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (station_code, valid_from)
);

-- Corrections to reviewed or approved months, carried in a later settlement: one line per
-- (original settlement, station, village), naming the original and why it changed.
CREATE TABLE settlement_adjustments (
    settlement_id          BIGINT NOT NULL REFERENCES settlements (id) ON DELETE CASCADE,
    original_settlement_id BIGINT NOT NULL REFERENCES settlements (id),
    original_period        TEXT NOT NULL,
    station_code           TEXT NOT NULL,
    village_code           TEXT NOT NULL,
    reason                 TEXT NOT NULL,
    amount_yuan            NUMERIC NOT NULL,
    PRIMARY KEY (settlement_id, original_settlement_id, station_code, village_code)
);

ALTER TABLE settlements ADD COLUMN adjustments_yuan NUMERIC NOT NULL DEFAULT 0;
