-- Connected channels: sealed credentials and their health, uploaded media, and which key sealed what.
-- `key_id` columns hold the first 8 hex digits of SHA-256 of the key that sealed the value, so a
-- value sealed with another key file is named as such instead of failing as "damaged".

ALTER TABLE channels ADD COLUMN credentials BLOB;
ALTER TABLE channels ADD COLUMN key_id TEXT;
ALTER TABLE channels ADD COLUMN token_expires_at INTEGER;
ALTER TABLE channels ADD COLUMN last_success_at INTEGER;
ALTER TABLE channels ADD COLUMN last_error TEXT;
ALTER TABLE channels ADD COLUMN last_error_at INTEGER;
ALTER TABLE channels ADD COLUMN last_checked_at INTEGER;
ALTER TABLE channels ADD COLUMN sync_cursor TEXT;

ALTER TABLE users ADD COLUMN totp_key_id TEXT;

CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    uploaded_by INTEGER REFERENCES users (id),
    mime TEXT NOT NULL,
    bytes BLOB NOT NULL,
    alt_text TEXT NOT NULL DEFAULT '',
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX media_org ON media (org_id, id);
