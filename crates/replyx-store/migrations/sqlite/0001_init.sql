-- The dialog log and the records around it. Seqs, idempotency and "one open dialog
-- per guest" are enforced here, so every process on this file agrees.
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE assistants (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    welcome_message TEXT,
    allowed_domains TEXT NOT NULL,  -- JSON array of hosts
    rules           TEXT NOT NULL,  -- JSON array of {keywords, reply}
    fallback_reply  TEXT,
    created_at      TEXT NOT NULL
);

CREATE TABLE dialogs (
    id                  TEXT PRIMARY KEY,
    assistant_id        TEXT NOT NULL REFERENCES assistants(id),
    guest_id            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('ai','waiting_operator','operator','closed')),
    operator_id         TEXT REFERENCES operators(id),
    last_seq            INTEGER NOT NULL DEFAULT 0,
    last_visitor_seq    INTEGER NOT NULL DEFAULT 0,
    visitor_read_up_to  INTEGER NOT NULL DEFAULT 0,
    operator_read_up_to INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX dialogs_one_open_per_guest ON dialogs(assistant_id, guest_id) WHERE status <> 'closed';
CREATE INDEX dialogs_by_activity ON dialogs(updated_at DESC);
CREATE INDEX dialogs_held ON dialogs(operator_id) WHERE status = 'operator';

CREATE TABLE events (
    row_id           INTEGER PRIMARY KEY AUTOINCREMENT,
    dialog_id        TEXT NOT NULL REFERENCES dialogs(id),
    seq              INTEGER NOT NULL,
    prev_visitor_seq INTEGER NOT NULL,
    internal         INTEGER NOT NULL DEFAULT 0,
    sender           TEXT,
    client_msg_id    TEXT,
    payload          TEXT NOT NULL,  -- JSON EventPayload
    origin           TEXT NOT NULL,  -- process that stored it, for the change feed
    created_at       TEXT NOT NULL,
    UNIQUE (dialog_id, seq)
);
CREATE UNIQUE INDEX events_client_msg_id ON events(dialog_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

-- Ephemeral typing / read / inbox notifications for other processes; pruned by age.
CREATE TABLE signals (
    row_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    dialog_id  TEXT NOT NULL,
    body       TEXT NOT NULL,
    origin     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX signals_by_age ON signals(created_at);
