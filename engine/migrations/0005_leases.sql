-- Crash-safe runs: leases instead of process ids, and retries of scheduled slots.

-- The random id of the pgshelf process that owns a queued or running row,
-- and until when (unix milliseconds) that process has promised to be alive.
-- It renews the lease while the run lasts; a row whose lease has expired is
-- recovered (failed, partial artifact removed) by whichever process sees it.
-- runner_pid (0001) is no longer written or read: pids are reused, and in a
-- container pgshelf is always pid 1.
ALTER TABLE backups ADD COLUMN runner      TEXT;
ALTER TABLE backups ADD COLUMN lease_until INTEGER;

-- 1 for a slot's first run; a retry of a failed or interrupted scheduled run
-- has the next number and points at the run it retries.
ALTER TABLE backups ADD COLUMN attempt  INTEGER NOT NULL DEFAULT 1;
ALTER TABLE backups ADD COLUMN retry_of INTEGER;

CREATE INDEX backups_by_lease ON backups (status, lease_until);
