-- People who use the web pages and the API, and the bearer tokens scripts use.
-- Gateways are not users: their credentials (gateways table) work for ingest only.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    -- admin, bureau, finance, technician, village
    role          TEXT NOT NULL CHECK (role IN ('admin', 'bureau', 'finance', 'technician', 'village')),
    -- A village user sees its own village only.
    village_code  TEXT REFERENCES areas (code),
    -- argon2id PHC string; the plain password is never stored.
    password_hash TEXT NOT NULL,
    -- Consecutive failed logins, and until when the account is locked after too many.
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    CHECK ((role = 'village') = (village_code IS NOT NULL))
) STRICT;

-- Bearer tokens: only a hash is stored (BLAKE2b of a 256-bit random token, so a lookup is
-- one indexed equality; argon2 is for low-entropy passwords, not random tokens).
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
) STRICT;
