-- Application table for the LLM mapping job family: merchant names waiting
-- for (or given) a category and ticker. Created only with
-- `celeriac migrate --with-app-tables`, in the chosen schema; IF NOT EXISTS
-- leaves an application's own table of that name alone.
-- {{schema}} is replaced by the validated, quoted schema name.

CREATE TABLE IF NOT EXISTS {{schema}}.llm_mappings (
  id              bigserial PRIMARY KEY,
  merchant_name   text NOT NULL,
  category        text,
  ticker          text,
  confidence      double precision CHECK (confidence >= 0 AND confidence <= 1),
  user_id         bigint,
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'mapped', 'approved', 'rejected', 'failed')),
  admin_approved  boolean NOT NULL DEFAULT false,
  source          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz
);

CREATE INDEX IF NOT EXISTS llm_mappings_lower_merchant_name_idx ON {{schema}}.llm_mappings (lower(merchant_name));
CREATE INDEX IF NOT EXISTS llm_mappings_status_created_at_idx ON {{schema}}.llm_mappings (status, created_at);
CREATE INDEX IF NOT EXISTS llm_mappings_category_idx ON {{schema}}.llm_mappings (category);
