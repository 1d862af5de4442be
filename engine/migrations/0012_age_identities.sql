-- age identities a user chose to store, sealed with the instance key like
-- server passwords, so scheduled test-restores (and verification after a
-- run) can decrypt encrypted backups. Opt-in; pgshelf stores no private key
-- otherwise. One row per X25519 recipient: the public key the stored secret
-- key opens (derived from the key itself), so it serves every policy and
-- every older backup encrypted to that key, whatever the policy is now.
CREATE TABLE age_identities (
    recipient    TEXT PRIMARY KEY,
    identity_enc TEXT NOT NULL,
    stored_by    TEXT NOT NULL,
    stored_at    TEXT NOT NULL
);
