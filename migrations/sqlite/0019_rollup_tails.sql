-- Where each device's rollups end (issue 7): the newest reading they hold, and per
-- quantity the last reading the next one pairs with (counter anchor, power, irradiance).
-- New readings after `last_ts` are rolled onto the stored hours from here, reading only
-- them; a reading at or before it (late, or resent) has its hours recomputed whole, and
-- the tail moves forward with them. A device without a row is always recomputed whole.
CREATE TABLE rollup_tails (
    device_id      INTEGER PRIMARY KEY,
    last_ts        INTEGER NOT NULL,
    counter_ts     INTEGER,
    counter        REAL,
    power_ts       INTEGER,
    power_w        REAL,
    irradiance_ts  INTEGER,
    irradiance_wm2 REAL
) STRICT, WITHOUT ROWID;
