-- A device's daily energy per local calendar year in one row (issue 7): a station's year
-- of daily energy reads a row per device instead of 365. A copy of energy_daily up to
-- `through_day`; src/store/daily_packs.rs describes the blob and what keeps it equal to
-- energy_daily. A rowid table: rows of about 5 kB do not suit WITHOUT ROWID.
CREATE TABLE energy_daily_packs (
    device_id   INTEGER NOT NULL,
    year        INTEGER NOT NULL,
    through_day TEXT NOT NULL,
    days        BLOB NOT NULL,
    PRIMARY KEY (device_id, year)
) STRICT;
