-- The latest status message of each edge gateway (pvledger gateway, issue 8). The figures
-- an alert on backlog or silence needs are columns; the whole message is kept as JSON.
CREATE TABLE gateway_status (
    gateway_code  TEXT PRIMARY KEY REFERENCES gateways (code),
    -- When the service received it (Unix ms): silence = now - received_at.
    received_at   INTEGER NOT NULL,
    -- The gateway's clock when it sent it; an older message never replaces a newer one.
    sent_at       INTEGER NOT NULL,
    version       TEXT NOT NULL,
    -- Readings waiting in the gateway's outbox, and the timestamp of the oldest (backlog age).
    outbox_depth  INTEGER NOT NULL,
    oldest_unsent INTEGER,
    -- Readings the gateway thinned because its outbox was full, ever.
    thinned_total INTEGER NOT NULL,
    -- Gateway clock minus service clock, ms (NULL: not checked).
    clock_skew_ms INTEGER,
    poll_failures INTEGER NOT NULL,
    message       TEXT NOT NULL
) STRICT;
