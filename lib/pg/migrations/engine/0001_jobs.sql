-- celeriac_jobs: one row per task id, the job's latest known state and
-- progress. Written by workers (pg::job_store), read by the CLI and by
-- applications (e.g. an API server showing an upload's progress).

-- Position of a state within one attempt; every final state ranks 4.
-- Used by the job store's upsert so that late or repeated writes never move
-- a job backwards. Inlined by the planner (IMMUTABLE, a single CASE).
CREATE OR REPLACE FUNCTION celeriac_job_state_rank(state text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE state
    WHEN 'RECEIVED' THEN 0
    WHEN 'STARTED' THEN 1
    WHEN 'PROGRESS' THEN 2
    WHEN 'RETRY' THEN 3
    ELSE 4
  END
$$;

CREATE TABLE IF NOT EXISTS celeriac_jobs (
  task_id         text PRIMARY KEY,
  name            text,
  queue           text,
  state           text NOT NULL
                  CHECK (state IN ('RECEIVED', 'STARTED', 'PROGRESS', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED')),
  progress_done   bigint,
  progress_total  bigint,
  progress_unit   text,
  meta            jsonb,
  message         text,
  error           text,
  result          jsonb,
  attempts        integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
  worker          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- `celeriac jobs --state S` and dashboards listing recent jobs.
CREATE INDEX IF NOT EXISTS celeriac_jobs_state_created_at_idx ON celeriac_jobs (state, created_at DESC);
CREATE INDEX IF NOT EXISTS celeriac_jobs_created_at_idx ON celeriac_jobs (created_at DESC);
