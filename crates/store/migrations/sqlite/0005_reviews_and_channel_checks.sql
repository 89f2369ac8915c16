-- The last version of a post each reviewer opened, so the review page shows the changes since then.
CREATE TABLE post_views (
    post_id INTEGER NOT NULL REFERENCES posts (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    version INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

-- The token expiry a channel's expiry warning was sent for: one warning per token, sent again after a
-- reconnect brings a new one.
ALTER TABLE channels ADD COLUMN expiry_warned_for INTEGER;
