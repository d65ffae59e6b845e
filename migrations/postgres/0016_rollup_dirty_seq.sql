-- How often a device was marked again since its mark was written (issue 7). The roller
-- recomputes marked devices on a transaction of its own while the writer goes on marking,
-- and removes a mark only if seq is still what it read: a device marked again meanwhile
-- (even by a reading inside the marked span) keeps its mark for the next pass.
ALTER TABLE rollup_dirty ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
