-- Subsidy receipts (补贴资金到账): each lump sum that reached the county's carry-over
-- account, and how it paid off stations' subsidy receivables, oldest period first.
CREATE TABLE subsidy_receipts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    county_code TEXT NOT NULL REFERENCES areas (code),
    received_on TEXT NOT NULL,
    amount_yuan TEXT NOT NULL,
    -- The transfer letter (转付函件) or bank reference.
    reference   TEXT NOT NULL,
    -- What was left after every receivable was paid: an unallocated credit.
    credit_yuan TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE subsidy_payments (
    receipt_id   INTEGER NOT NULL REFERENCES subsidy_receipts (id),
    station_code TEXT NOT NULL,
    -- The month whose subsidy this pays, 'YYYY-MM'.
    period       TEXT NOT NULL,
    amount_yuan  TEXT NOT NULL,
    PRIMARY KEY (receipt_id, station_code, period)
) STRICT;
