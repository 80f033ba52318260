-- The channel a run came in on, so usage can be summed per channel even after its session was
-- deleted (runs outlive their sessions). Earlier runs take their session's channel when it still
-- exists.
ALTER TABLE runs ADD COLUMN channel TEXT;
UPDATE runs SET channel = (SELECT channel FROM sessions WHERE sessions.id = runs.session_id);
