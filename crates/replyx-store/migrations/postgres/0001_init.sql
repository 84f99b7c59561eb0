-- The dialog log and the records around it, for a cluster of nodes sharing one
-- database. Seqs, idempotency and "one open dialog per guest" are enforced here (row
-- locks and unique indexes), so every node agrees without talking to the others.
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX operators_email ON operators (lower(email));

CREATE TABLE assistants (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    welcome_message TEXT,
    allowed_domains TEXT NOT NULL,  -- JSON array of hosts
    rules           TEXT NOT NULL,  -- JSON array of {keywords, reply}
    fallback_reply  TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE dialogs (
    id                  TEXT PRIMARY KEY,
    assistant_id        TEXT NOT NULL REFERENCES assistants(id),
    guest_id            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('ai','waiting_operator','operator','closed')),
    operator_id         TEXT REFERENCES operators(id),
    last_seq            BIGINT NOT NULL DEFAULT 0,
    last_visitor_seq    BIGINT NOT NULL DEFAULT 0,
    visitor_read_up_to  BIGINT NOT NULL DEFAULT 0,
    operator_read_up_to BIGINT NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX dialogs_one_open_per_guest ON dialogs (assistant_id, guest_id) WHERE status <> 'closed';
CREATE INDEX dialogs_by_activity ON dialogs (updated_at DESC);
CREATE INDEX dialogs_held ON dialogs (operator_id) WHERE status = 'operator';

-- `tx` is the writing transaction's id: the change feed reads rows in (tx, row_id)
-- order and only below the oldest running transaction, because on PostgreSQL row ids
-- are handed out in insert order, not commit order.
CREATE TABLE events (
    row_id           BIGSERIAL PRIMARY KEY,
    dialog_id        TEXT NOT NULL REFERENCES dialogs(id),
    seq              BIGINT NOT NULL,
    prev_visitor_seq BIGINT NOT NULL,
    internal         BOOLEAN NOT NULL DEFAULT FALSE,
    sender           TEXT,
    client_msg_id    TEXT,
    payload          TEXT NOT NULL,  -- JSON EventPayload
    origin           TEXT NOT NULL,  -- node that stored it, for the change feed
    created_at       TIMESTAMPTZ NOT NULL,
    tx               BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    UNIQUE (dialog_id, seq)
);
CREATE UNIQUE INDEX events_client_msg_id ON events (dialog_id, client_msg_id) WHERE client_msg_id IS NOT NULL;
CREATE INDEX events_feed ON events (tx, row_id);

-- Ephemeral typing / read / inbox notifications for the change feed; pruned by age.
CREATE TABLE signals (
    row_id     BIGSERIAL PRIMARY KEY,
    dialog_id  TEXT NOT NULL,
    body       TEXT NOT NULL,
    origin     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    tx         BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
);
CREATE INDEX signals_by_age ON signals (created_at);
CREATE INDEX signals_feed ON signals (tx, row_id);
