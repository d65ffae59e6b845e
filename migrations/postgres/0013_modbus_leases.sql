-- Modbus connections divided among pvledger processes (issue 7). The unit of a lease is one
-- Modbus TCP endpoint (host:port), not a device: the units behind one gateway share its single
-- connection, so they must be polled by one process. A row exists while some process holds
-- the endpoint; releasing deletes it. Instants are on the database's clock (now()).
CREATE TABLE modbus_leases (
    -- The endpoint, "host:port" ("[v6]:port" for IPv6), as the pollers group devices.
    unit        TEXT PRIMARY KEY,
    -- The holder's modbus.node_id (default hostname-pid).
    owner       TEXT NOT NULL,
    -- The lease is the holder's until then; after it, any process may take it over.
    expires_at  TIMESTAMPTZ NOT NULL
);

-- The processes taking part: each renews its row with its leases, so a process that holds
-- nothing yet still counts in the fair share and the others release some units for it.
CREATE TABLE modbus_nodes (
    node_id     TEXT PRIMARY KEY,
    expires_at  TIMESTAMPTZ NOT NULL
);
