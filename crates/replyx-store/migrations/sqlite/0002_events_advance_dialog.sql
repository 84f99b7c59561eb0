-- Appending an event moves its dialog's positions in the same statement, so the
-- append is one INSERT: a failed append leaves nothing half-written, and no code path
-- can store an event without advancing `last_seq`. `last_visitor_seq` skips internal
-- notes (the visitor stream links over them with `prev_visitor_seq`).
CREATE TRIGGER events_advance_dialog AFTER INSERT ON events
BEGIN
    UPDATE dialogs
       SET last_seq = NEW.seq,
           last_visitor_seq = CASE WHEN NEW.internal THEN last_visitor_seq ELSE NEW.seq END,
           updated_at = NEW.created_at
     WHERE id = NEW.dialog_id;
END;
