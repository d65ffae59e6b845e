-- Devices whose rollups trail their readings (issue 7). Under a backlog the writer commits
-- readings with a mark here instead of recomputing their hours and days at once, and
-- recomputes the marked spans together later (when the queue empties, or the oldest mark is
-- ingest.rollup_max_lag_ms old): a device with many readings queued is then recomputed once,
-- not once per batch. The mark is written in the readings' transaction, so a process that
-- dies leaves it for the next writer (or its own restart) to finish.
CREATE TABLE rollup_dirty (
    device_id   INTEGER PRIMARY KEY,
    -- The earliest and latest reading not yet rolled up (Unix ms).
    first_ts    INTEGER NOT NULL,
    last_ts     INTEGER NOT NULL
);
