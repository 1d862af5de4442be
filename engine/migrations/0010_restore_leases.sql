-- A restore run names its owner (the instance id of the pgshelf process
-- running it) and a lease deadline (ms since the epoch) the owner renews
-- while it lives, as backup runs do: a run whose owner died (kill -9, a
-- power cut) is recovered as failed instead of staying `running` forever.
ALTER TABLE restore_runs ADD COLUMN runner TEXT;
ALTER TABLE restore_runs ADD COLUMN lease_until INTEGER;
