-- Task ids and job states compare byte by byte (the "C" collation),
-- whatever the database's default collation is.
--
-- A task id is an opaque identifier (Celery makes uuids): nothing reads it
-- in a linguistic order, and equality is byte equality under any
-- deterministic collation. But under a linguistic default collation
-- (en_US.UTF-8 or an ICU locale, what most hosts' initdb and the official
-- container images give) every comparison in an index on these columns goes
-- through strcoll() or ICU instead of memcmp(), and writing one
-- celeriac_jobs row makes dozens of them: the primary key's uniqueness
-- check and insertion, in random task id order, and the (state, created_at)
-- index. docs/postgres.md has what it cost the job store.
--
-- Changing only the collation rewrites no table; PostgreSQL rebuilds the
-- indexes on these columns, holding the table's lock meanwhile (seconds per
-- million rows).
--
-- What changes for readers: ORDER BY task_id follows byte order, and LIKE
-- 'prefix%' on task_id can use the primary key. Joins with text columns of
-- the default collation compare under "C", which for equality is the same.
ALTER TABLE celeriac_jobs
  ALTER COLUMN task_id TYPE text COLLATE "C",
  ALTER COLUMN state TYPE text COLLATE "C";
ALTER TABLE celeriac_import_errors ALTER COLUMN task_id TYPE text COLLATE "C";
ALTER TABLE celeriac_import_checkpoints ALTER COLUMN task_id TYPE text COLLATE "C";
ALTER TABLE celeriac_import_parts ALTER COLUMN task_id TYPE text COLLATE "C";
