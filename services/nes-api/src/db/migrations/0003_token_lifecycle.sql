-- Token lifecycle: an optional expiry, revocation (the row stays, so a listing shows who had
-- access and when it ended), the last use (to the minute), and which token is the service's own
-- admin token (NES_ADMIN_TOKEN or the generated one): a start with another admin token revokes
-- the previous one.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz(3);
ALTER TABLE api_tokens ADD COLUMN revoked_at timestamptz(3);
ALTER TABLE api_tokens ADD COLUMN last_used_at timestamptz(3);
ALTER TABLE api_tokens ADD COLUMN service boolean NOT NULL DEFAULT false;
-- Until now only the service created tokens named "admin" (one per admin token it was started
-- with, never removed): they are all service tokens, and the next start keeps only its own.
UPDATE api_tokens SET service = true WHERE name = 'admin' AND scopes = '["admin"]'::jsonb;
