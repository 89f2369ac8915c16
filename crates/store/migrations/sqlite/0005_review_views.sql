-- The last version of a post each reviewer opened, so the review page shows the changes since then.
CREATE TABLE post_views (
    post_id INTEGER NOT NULL REFERENCES posts (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    version INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
