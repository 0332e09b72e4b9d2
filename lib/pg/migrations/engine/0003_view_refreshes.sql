-- celeriac.views.refresh: request generations per materialized view, so
-- requests that arrive while a refresh runs coalesce into exactly one
-- follow-up refresh (docs/jobs.md). A request bumps requested_gen; a
-- refresh records the generation it covers in started_gen before it
-- starts and in completed_gen when it commits; a request whose generation
-- is already completed when it gets the view's lock was served by a
-- refresh that started after it arrived.
CREATE TABLE IF NOT EXISTS celeriac_view_refreshes (
  view_oid        oid PRIMARY KEY,
  view_name       text NOT NULL,
  requested_gen   bigint NOT NULL DEFAULT 0,
  started_gen     bigint NOT NULL DEFAULT 0,
  completed_gen   bigint NOT NULL DEFAULT 0,
  last_started_at timestamptz,
  last_finished_at timestamptz,
  last_seconds    double precision,
  last_mode       text
);
