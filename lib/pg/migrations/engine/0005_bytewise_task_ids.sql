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
--
-- PostgreSQL refuses to change a column that a view (or materialized view)
-- uses, and an application may have built its own views on these tables.
-- Such a column keeps the database's collation, with a WARNING naming the
-- views and the statement to run once they are dropped: a saving of a few
-- microseconds a row is not worth stopping an upgrade for.
DO $$
DECLARE
  target record;
  blockers text;
BEGIN
  FOR target IN
    SELECT * FROM (VALUES
      ('celeriac_jobs', 'task_id'),
      ('celeriac_jobs', 'state'),
      ('celeriac_import_errors', 'task_id'),
      ('celeriac_import_checkpoints', 'task_id'),
      ('celeriac_import_parts', 'task_id')) AS t (tab, col)
  LOOP
    SELECT string_agg(DISTINCT v.oid::regclass::text, ', ') INTO blockers
    FROM pg_depend d
    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    JOIN pg_rewrite r ON r.oid = d.objid
    JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.classid = 'pg_rewrite'::regclass
      AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = to_regclass(quote_ident(target.tab))
      AND a.attname = target.col
      AND v.oid <> d.refobjid;
    IF blockers IS NULL THEN
      EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "C"', target.tab, target.col);
    ELSE
      RAISE WARNING '%.% keeps the database''s collation: % use% it, and PostgreSQL cannot change a column a view uses',
        target.tab, target.col, blockers, CASE WHEN blockers LIKE '%,%' THEN '' ELSE 's' END
        USING HINT = format('To compare it bytewise (faster job store writes): drop %s; run ALTER TABLE %I ALTER '
                            'COLUMN %I TYPE text COLLATE "C"; then create %s again.',
                            blockers, target.tab, target.col, CASE WHEN blockers LIKE '%,%' THEN 'them' ELSE 'it' END);
    END IF;
  END LOOP;
END
$$;
