-- Indexes for the overview (engine::overview), which must stay fast with
-- 100,000 backups: every read is a seek or a short range, never a scan.

-- A target's good backups by finish time: the good backup nearest 30 days
-- ago is one seek each side of the moment.
CREATE INDEX backups_good_by_target ON backups (server_id, kind, database, finished_at)
    WHERE status IN ('succeeded', 'verified', 'suspect');

-- Failures and suspect backups of the last days; good backups finished per
-- day (the stored total's history), covering the bytes.
CREATE INDEX backups_by_status_finished ON backups (status, finished_at, stored_bytes);

-- Backups pruned per day (the stored total's history).
CREATE INDEX backups_by_pruned ON backups (pruned_at, status, stored_bytes) WHERE pruned_at IS NOT NULL;

-- What is held now, per tier: good backups not pruned, covering the bytes.
CREATE INDEX backups_held ON backups (status, tiers, stored_bytes, pruned_at) WHERE pruned_at IS NULL;
