-- Operators at work: presence, the routing queue, auto-assignment, ratings, the
-- visitor's context and canned responses.
--
-- Safe under a blue-green switch: every new column has a default or is nullable, so
-- the old colour's writes stay valid (its dialogs enter the queue without a
-- `queued_at`, which orders them first: they waited longest).

-- Presence: the status an operator chose, the state last published (the sweeper moves
-- it with one conditional UPDATE per change, so one node announces each change), when
-- any node last saw a console of theirs, and when they were last given a dialog (the
-- round robin among equally loaded operators).
CREATE TABLE operator_presence (
    operator_id      TEXT PRIMARY KEY REFERENCES operators(id),
    chosen           TEXT NOT NULL DEFAULT 'online' CHECK (chosen IN ('online', 'away')),
    state            TEXT NOT NULL DEFAULT 'offline' CHECK (state IN ('online', 'away', 'offline')),
    last_seen        TEXT,
    last_assigned_at TEXT
);
-- A per-operator capacity overriding REPLYX_MAX_DIALOGS_PER_OPERATOR.
ALTER TABLE operators ADD COLUMN max_dialogs INTEGER CHECK (max_dialogs IS NULL OR max_dialogs >= 0);

-- Per assistant: queued dialogs are given to operators by the server, and where a
-- released (or orphaned) dialog goes.
ALTER TABLE assistants ADD COLUMN auto_assign INTEGER NOT NULL DEFAULT 0;
ALTER TABLE assistants ADD COLUMN release_to TEXT NOT NULL DEFAULT 'queue' CHECK (release_to IN ('queue', 'bot'));

-- When the dialog entered the queue (NULL unless waiting_operator), what page the
-- visitor chats from, and the visitor's rating.
ALTER TABLE dialogs ADD COLUMN queued_at TEXT;
ALTER TABLE dialogs ADD COLUMN context TEXT;  -- JSON VisitorContext
ALTER TABLE dialogs ADD COLUMN rating_score INTEGER CHECK (rating_score IS NULL OR rating_score BETWEEN 1 AND 5);
ALTER TABLE dialogs ADD COLUMN rating_comment TEXT;
CREATE INDEX dialogs_queue ON dialogs(assistant_id, queued_at) WHERE status = 'waiting_operator';

-- How long recent dialogs waited in the queue, for the visitor's expected wait.
CREATE TABLE queue_waits (
    assistant_id TEXT NOT NULL,
    waited_ms    INTEGER NOT NULL,
    picked_at    TEXT NOT NULL
);
CREATE INDEX queue_waits_recent ON queue_waits(assistant_id, picked_at DESC);

-- Canned responses per assistant, inserted with /shortcut in the console.
CREATE TABLE canned_responses (
    id           TEXT PRIMARY KEY,
    assistant_id TEXT NOT NULL REFERENCES assistants(id),
    shortcut     TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (assistant_id, shortcut)
);
