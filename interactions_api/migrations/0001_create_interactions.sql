-- Interactions recorded by the API. The identity column gives a unique, ever-growing tie-breaker for
-- keyset pagination on (occurred_at, id).
CREATE TABLE IF NOT EXISTS interactions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 128),
    type        text        NOT NULL CHECK (type ~ '^[a-z0-9][a-z0-9_.:-]{0,63}$'),
    payload     jsonb       CHECK (payload IS NULL OR jsonb_typeof(payload) = 'object'),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Unfiltered and `since`-filtered listing walks this index in order; INCLUDE (type) lets the stats
-- query count per type with an index-only scan over the time range.
CREATE INDEX IF NOT EXISTS interactions_occurred_at_id_idx
    ON interactions (occurred_at DESC, id DESC) INCLUDE (type);

-- Listing filtered by user or by type: equality on the first column, then the keyset order.
CREATE INDEX IF NOT EXISTS interactions_user_id_occurred_at_id_idx
    ON interactions (user_id, occurred_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS interactions_type_occurred_at_id_idx
    ON interactions (type, occurred_at DESC, id DESC);
