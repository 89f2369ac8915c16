-- Publishing: post versions, approval chains and decisions, the publishing job table, publications,
-- the archive of everything published, and in-app notifications.

ALTER TABLE posts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE posts ADD COLUMN content_type TEXT NOT NULL DEFAULT 'general';
ALTER TABLE posts ADD COLUMN media_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE posts ADD COLUMN status_note TEXT;

-- Every version a post had, so approvers see exactly what they sign and the archive can prove it.
CREATE TABLE post_versions (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts (id),
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    channel_ids TEXT NOT NULL,
    paid INTEGER NOT NULL DEFAULT 0 CHECK (paid IN (0, 1)),
    scheduled_at INTEGER,
    content_type TEXT NOT NULL,
    media_ids TEXT NOT NULL,
    report TEXT,
    -- The approval chain (steps JSON) fixed when this version was submitted: a chain edited later
    -- must not move the goalposts of decisions already given.
    chain TEXT,
    override_reason TEXT,
    override_by INTEGER REFERENCES users (id),
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    UNIQUE (post_id, version)
);

CREATE TABLE approval_chains (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    channel_id INTEGER REFERENCES channels (id),
    content_type TEXT,
    steps TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- One chain per scope; NULLs are folded so that the organization default is unique too.
CREATE UNIQUE INDEX approval_chains_scope ON approval_chains (org_id, COALESCE(channel_id, 0), COALESCE(content_type, ''));

CREATE TABLE approvals (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts (id),
    version INTEGER NOT NULL,
    step INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject', 'request_changes')),
    comment TEXT,
    at_ms INTEGER NOT NULL,
    UNIQUE (post_id, version, step, user_id)
);

CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals
BEGIN
    SELECT RAISE(ABORT, 'approvals is append-only');
END;

CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
BEGIN
    SELECT RAISE(ABORT, 'approvals is append-only');
END;

CREATE TABLE publish_jobs (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    post_id INTEGER NOT NULL REFERENCES posts (id),
    channel_id INTEGER NOT NULL REFERENCES channels (id),
    version INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    run_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    recovered INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1)),
    locked_by TEXT,
    locked_until INTEGER,
    first_started_at INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX publish_jobs_due ON publish_jobs (state, run_at);
CREATE INDEX publish_jobs_post ON publish_jobs (post_id, version);

CREATE TABLE publications (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    post_id INTEGER NOT NULL REFERENCES posts (id),
    channel_id INTEGER NOT NULL REFERENCES channels (id),
    version INTEGER NOT NULL,
    remote TEXT NOT NULL,
    url TEXT,
    published_at INTEGER NOT NULL,
    deleted_at INTEGER,
    UNIQUE (post_id, channel_id)
);
CREATE INDEX publications_org ON publications (org_id, published_at);

-- No foreign keys: the archive must outlive the rows it speaks of.
CREATE TABLE archive_items (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('post', 'deletion', 'edit')),
    post_id INTEGER,
    channel_id INTEGER,
    url TEXT,
    body TEXT NOT NULL,
    record TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX archive_items_org ON archive_items (org_id, id);

CREATE TRIGGER archive_items_no_update BEFORE UPDATE ON archive_items
BEGIN
    SELECT RAISE(ABORT, 'archive_items is append-only');
END;

CREATE TRIGGER archive_items_no_delete BEFORE DELETE ON archive_items
BEGIN
    SELECT RAISE(ABORT, 'archive_items is append-only');
END;

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    link TEXT,
    created_at INTEGER NOT NULL,
    read_at INTEGER
);
CREATE INDEX notifications_user ON notifications (user_id, read_at, id);
