-- Which hours of each device-day had data and which produced, as bit masks: bit i is the
-- i-th hour after the local day's start. The efficacy assessment intersects them with the
-- hours the sun was up at the station (time availability, 时间可利用率) without reading a
-- year of hourly rows. Rows rolled up before this migration keep 0 (availability unknown)
-- until their day is recomputed.
ALTER TABLE energy_daily ADD COLUMN data_hours INTEGER NOT NULL DEFAULT 0;
ALTER TABLE energy_daily ADD COLUMN producing_hours INTEGER NOT NULL DEFAULT 0;
