-- Browser sessions of the web pages, and the forced password change of one-time passwords.

-- A password printed once (first-start admin, `pvledger user add`) must be replaced by the
-- user at the first login before anything else is allowed.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    -- BLAKE2b of the random cookie value: a stolen database does not yield live cookies.
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    -- Sent back in a hidden form field or X-CSRF-Token header with every state change.
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    -- Last request: idle expiry counts from here; absolute expiry from created_at.
    last_seen   INTEGER NOT NULL,
    -- Set at logout or when the password changes; an ended session never comes back.
    ended_at    INTEGER
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);
