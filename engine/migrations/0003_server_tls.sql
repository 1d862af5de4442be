-- TLS settings per server, as pasted PEM text. The root and client
-- certificates are public and stored plain; the client key is sealed with
-- the instance key like the password (never returned to callers).
ALTER TABLE servers ADD COLUMN ssl_root_cert      TEXT;
ALTER TABLE servers ADD COLUMN ssl_client_cert    TEXT;
ALTER TABLE servers ADD COLUMN ssl_client_key_enc TEXT;
