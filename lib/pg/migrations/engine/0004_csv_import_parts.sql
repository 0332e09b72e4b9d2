-- Parallel CSV imports (celeriac.csv_import with parallel > 1): the file is
-- cut at record boundaries into parts that load at once, each on its own
-- connection, each with its own compare-and-set checkpoint here.
--
-- part_count on the job's checkpoint row says how the job was cut, once,
-- when it first started: NULL means one part, whose position is the row's
-- own byte_offset (every import before this migration, and parallel = 1).
-- A job is cut only while its row is still at offset 0 and part_count is
-- NULL, under that row's lock, and a one-part chunk commits only while
-- part_count is NULL: so a job never loads both ways.
--
-- For a cut job, the row's byte_offset stays 0 and its rows_done /
-- rows_rejected are the sums of its parts', kept so by every part's chunk
-- transaction.
ALTER TABLE celeriac_import_checkpoints ADD COLUMN IF NOT EXISTS part_count integer CHECK (part_count > 1);

-- One row per part: it loads [start_offset, end_offset) of the file and
-- has durably got to byte_offset (a record boundary), where line_number
-- starts. Part 0 starts at 0; part k+1 starts where part k ends.
CREATE TABLE IF NOT EXISTS celeriac_import_parts (
  task_id        text NOT NULL,
  part           integer NOT NULL CHECK (part >= 0),
  start_offset   bigint NOT NULL CHECK (start_offset >= 0),
  start_line     bigint NOT NULL CHECK (start_line >= 1),
  end_offset     bigint NOT NULL CHECK (end_offset > start_offset),
  byte_offset    bigint NOT NULL CHECK (byte_offset >= start_offset AND byte_offset <= end_offset),
  line_number    bigint NOT NULL CHECK (line_number >= 1),
  rows_done      bigint NOT NULL DEFAULT 0,
  rows_rejected  bigint NOT NULL DEFAULT 0,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, part)
);
