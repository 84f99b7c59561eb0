-- `client_msg_id` is an idempotency key of one sender, not of the whole dialog: with
-- one key space per dialog, an operator reply that happened to reuse the visitor's key
-- was answered with the visitor's message (and nothing stored), and a visitor reusing a
-- note's key was answered with the note, which the visitor stream cannot show. The key
-- now belongs to `sender_key`: 'visitor', 'assistant', 'system' or 'operator:<id>' (each
-- operator on their own). A retry still finds its first copy; only its sender's.
ALTER TABLE events ADD COLUMN sender_key TEXT;
UPDATE events
   SET sender_key = CASE sender
           WHEN 'operator' THEN 'operator:' || COALESCE(json_extract(payload, '$.message.operator.id'), '')
           ELSE sender
       END
 WHERE sender IS NOT NULL;
DROP INDEX events_client_msg_id;
CREATE UNIQUE INDEX events_client_msg_id
    ON events(dialog_id, sender_key, client_msg_id) WHERE client_msg_id IS NOT NULL;
-- During a blue-green deploy the old colour keeps writing for a moment without
-- `sender_key` (its own guard still keeps keys unique per dialog). Filling the key in
-- for it keeps a retry that reaches the new colour from storing the message twice.
CREATE TRIGGER events_sender_key_for_old_writers AFTER INSERT ON events
    WHEN NEW.sender_key IS NULL AND NEW.sender IS NOT NULL
BEGIN
    UPDATE events
       SET sender_key = CASE NEW.sender
               WHEN 'operator' THEN 'operator:' || COALESCE(json_extract(NEW.payload, '$.message.operator.id'), '')
               ELSE NEW.sender
           END
     WHERE row_id = NEW.row_id;
END;
