-- Per-station deduction terms, effective-dated; NULL = the county default (configuration).
CREATE TABLE station_deductions (
    station_code            TEXT NOT NULL REFERENCES stations (code),
    valid_from              TEXT NOT NULL,
    om_yuan_per_kwp_year    TEXT,
    om_percent              TEXT,
    land_rent_yuan_per_year TEXT,
    insurance_yuan_per_year TEXT,
    vat_rate                TEXT,
    vat_refund_share        TEXT,
    note                    TEXT,
    imported_at             INTEGER NOT NULL,
    PRIMARY KEY (station_code, valid_from)
) STRICT;

-- Corrections to reviewed or approved months, carried in a later settlement: one line per
-- (original settlement, station, village), naming the original and why it changed.
CREATE TABLE settlement_adjustments (
    settlement_id          INTEGER NOT NULL REFERENCES settlements (id) ON DELETE CASCADE,
    original_settlement_id INTEGER NOT NULL REFERENCES settlements (id),
    original_period        TEXT NOT NULL,
    station_code           TEXT NOT NULL,
    village_code           TEXT NOT NULL,
    reason                 TEXT NOT NULL,
    amount_yuan            TEXT NOT NULL,
    PRIMARY KEY (settlement_id, original_settlement_id, station_code, village_code)
) STRICT;

ALTER TABLE settlements ADD COLUMN adjustments_yuan TEXT NOT NULL DEFAULT '0.00';
