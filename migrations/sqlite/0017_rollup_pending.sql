-- Batches whose rollups trail their readings (issue 7), one row per batch written behind a
-- backlog: cheaper to write than an upsert per device into rollup_dirty, which a deferred
-- batch of 5,000 devices spent a third of its time on. A roll-up recomputes the devices of
-- every row it reads (and of rollup_dirty) and then deletes exactly those rows.
CREATE TABLE rollup_pending (
    id      INTEGER PRIMARY KEY,
    -- Per device: id, first and last new reading (Unix ms), little-endian 64-bit integers.
    spans   BLOB NOT NULL
);
