-- Branching and sub-agents: a session forked from another (at one of its messages) or spawned by
-- another's run names its parent; the parent stays as it was.
ALTER TABLE sessions ADD COLUMN parent_id TEXT;
-- For a fork: the parent's last message `seq` the fork copied.
ALTER TABLE sessions ADD COLUMN fork_seq INTEGER;
-- Who a run answered (a canonical identity: `telegram:123` or an `identityLinks` name), for usage
-- and budgets per sender.
ALTER TABLE runs ADD COLUMN sender TEXT;
-- A sub-agent's run names the run that spawned it.
ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
