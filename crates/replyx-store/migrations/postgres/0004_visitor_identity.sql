-- Visitor identity verification. A customer site's backend signs who its logged-in
-- user is with one of its assistant's identity keys; a verified user gets one guest id
-- per assistant, kept here, so their dialogs follow them to every device. `enforce`
-- mode refuses visitors without such an identity.
--
-- Safe under a blue-green switch: the old colour does not know these columns and
-- tables, and what it writes (assistants without a mode) reads as 'optional'.
ALTER TABLE assistants ADD COLUMN identity_mode TEXT NOT NULL DEFAULT 'optional'
    CHECK (identity_mode IN ('optional', 'enforce'));

CREATE TABLE identity_keys (
    assistant_id TEXT NOT NULL REFERENCES assistants(id),
    kid          TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (assistant_id, kid)
);

CREATE TABLE verified_visitors (
    assistant_id TEXT NOT NULL REFERENCES assistants(id),
    user_id      TEXT NOT NULL,
    guest_id     TEXT NOT NULL,
    name         TEXT,
    email        TEXT,
    first_seen   TIMESTAMPTZ NOT NULL,
    last_seen    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (assistant_id, user_id)
);
CREATE UNIQUE INDEX verified_visitors_by_guest ON verified_visitors(assistant_id, guest_id);
-- A guest's dialogs, newest first (earlier dialogs on another device).
CREATE INDEX dialogs_by_guest ON dialogs(assistant_id, guest_id, updated_at DESC);
