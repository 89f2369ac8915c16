-- The slot time a post's approval-deadline warning was sent for: one warning per slot, sent again
-- only when the post gets a new time.
ALTER TABLE posts ADD COLUMN approval_warned_for BIGINT;
