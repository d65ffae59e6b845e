-- A device's daily energy per local calendar year in one row (issue 7): a station's year
-- of daily energy reads a row per device instead of 365. A copy of energy_daily up to
-- `through_day`; src/store/daily_packs.rs describes the blob and what keeps it equal to
-- energy_daily. A year is about 5 kB: the row may reach a page before anything of it is
-- moved to TOAST, so that a pack is read with its row.
CREATE TABLE energy_daily_packs (
    device_id   BIGINT NOT NULL,
    year        INTEGER NOT NULL,
    through_day DATE NOT NULL,
    days        BYTEA NOT NULL,
    PRIMARY KEY (device_id, year) INCLUDE (through_day)
) WITH (toast_tuple_target = 8160);
