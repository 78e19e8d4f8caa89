-- occurred_at only within what the API can read back (interactions_api.models.OCCURRED_AT_MIN/MAX).
-- Rows stored before this rule (a year-0 or year-10000 instant made every listing answer 500) are moved
-- aside, whole, into interactions_quarantine, where an operator can inspect them; then the table refuses
-- such rows from any writer.
CREATE TABLE IF NOT EXISTS interactions_quarantine (
    LIKE interactions INCLUDING DEFAULTS,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);

WITH moved AS (
    DELETE FROM interactions
    WHERE occurred_at < '1970-01-01T00:00:00Z' OR occurred_at >= '9999-12-31T00:00:00Z'
    RETURNING id, user_id, type, payload, occurred_at, created_at
)
INSERT INTO interactions_quarantine (id, user_id, type, payload, occurred_at, created_at)
SELECT id, user_id, type, payload, occurred_at, created_at FROM moved;

ALTER TABLE interactions ADD CONSTRAINT interactions_occurred_at_readable
    CHECK (occurred_at >= '1970-01-01T00:00:00Z' AND occurred_at < '9999-12-31T00:00:00Z');
