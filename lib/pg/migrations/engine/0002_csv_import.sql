-- Tables for the CSV import job family.

-- Rows the import refused, with where and why. raw_record holds the
-- offending record's bytes as read (any encoding), cut by the importer to a
-- bounded prefix so one huge line cannot bloat the table.
CREATE TABLE IF NOT EXISTS celeriac_import_errors (
  id           bigserial PRIMARY KEY,
  task_id      text NOT NULL,
  line_number  bigint NOT NULL,
  column_name  text,
  reason       text NOT NULL,
  raw_record   bytea,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS celeriac_import_errors_task_line_idx ON celeriac_import_errors (task_id, line_number);

-- Where an import has durably got to, committed with each chunk, so a
-- restarted import resumes after the last committed chunk. file_size and
-- file_mtime identify the file the offset belongs to: a changed file must
-- not be resumed from an old offset.
CREATE TABLE IF NOT EXISTS celeriac_import_checkpoints (
  task_id        text PRIMARY KEY,
  byte_offset    bigint NOT NULL CHECK (byte_offset >= 0),
  line_number    bigint NOT NULL CHECK (line_number >= 0),
  rows_done      bigint NOT NULL DEFAULT 0,
  rows_rejected  bigint NOT NULL DEFAULT 0,
  file_size      bigint,
  file_mtime     timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
