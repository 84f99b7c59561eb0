-- Operator roles and account status, server-side login sessions, and single-use socket
-- tickets. Operators that existed before roles were all-powerful: they become admins.
ALTER TABLE operators ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin','agent'));
ALTER TABLE operators ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled','removed'));

CREATE TABLE operator_sessions (
    id          TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX operator_sessions_by_operator ON operator_sessions(operator_id) WHERE revoked_at IS NULL;

-- A ticket is stored by its SHA-256, never in the clear: the table alone opens nothing.
CREATE TABLE socket_tickets (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES operator_sessions(id),
    expires_at TEXT NOT NULL
);
CREATE INDEX socket_tickets_by_expiry ON socket_tickets(expires_at);
