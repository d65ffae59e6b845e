-- When a gateway's thinned_total last grew, on the service's clock (Unix ms; issue 8: the
-- thinning alert). Only the latest status is kept, so the increase is noted when it is
-- stored; NULL: no thinning seen since this column exists.
ALTER TABLE gateway_status ADD COLUMN thinned_at INTEGER;
