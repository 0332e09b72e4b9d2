"""The baseline for scripts/bench-csv: a CSV import written the way a Python
Celery task usually is. It reads the file with the csv module, checks and
converts each row as the llm_mappings profile does, and inserts good rows
with psycopg2's execute_values, 10,000 rows per statement and commit.

    /usr/bin/python3 csv_psycopg2_task.py FILE DSN [BATCH]

prints rows loaded, rows rejected and seconds as JSON. The task body runs in
this process (a Celery worker would add nothing but the message round
trip); it is also registered as a Celery task for completeness.
"""
import csv
import datetime
import json
import sys
import time

import psycopg2
import psycopg2.extras

try:
    from celery import Celery

    app = Celery("csv_psycopg2_task")
    task = app.task(name="bench.csv_import_psycopg2")
except Exception:  # noqa: BLE001 - Celery is only decoration here
    def task(f):
        return f

COLUMNS = ("merchant_name", "category", "ticker", "confidence", "user_id", "created_at")


def convert(rec):
    """One record as a tuple of typed values; raises ValueError."""
    if len(rec) != len(COLUMNS):
        raise ValueError(f"{len(rec)} fields, expected {len(COLUMNS)}")
    name, category, ticker, confidence, user_id, created_at = (v if v != "" else None for v in rec)
    if name is None:
        raise ValueError("merchant_name: missing")
    if category is not None and len(category) > 200:
        raise ValueError("category: longer than 200 characters")
    if confidence is not None:
        confidence = float(confidence)
        if not 0.0 <= confidence <= 1.0:
            raise ValueError("confidence: outside [0, 1]")
    if user_id is not None:
        user_id = int(user_id)
    if created_at is None:
        raise ValueError("created_at: missing")
    created_at = datetime.datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:
        raise ValueError("created_at: no UTC offset")
    return (name, category, ticker, confidence, user_id, created_at)


@task
def import_csv(path, dsn, batch=10_000):
    start = time.monotonic()
    loaded = rejected = 0
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur, open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            if tuple(header) != COLUMNS:
                raise ValueError(f"unexpected header {header}")
            rows = []
            for rec in reader:
                try:
                    rows.append(convert(rec))
                except ValueError:
                    rejected += 1
                    continue
                if len(rows) == batch:
                    psycopg2.extras.execute_values(
                        cur, f"INSERT INTO llm_mappings ({', '.join(COLUMNS)}) VALUES %s", rows, page_size=batch)
                    conn.commit()
                    loaded += len(rows)
                    rows = []
            if rows:
                psycopg2.extras.execute_values(
                    cur, f"INSERT INTO llm_mappings ({', '.join(COLUMNS)}) VALUES %s", rows, page_size=batch)
                conn.commit()
                loaded += len(rows)
    finally:
        conn.close()
    return {"rows_loaded": loaded, "rows_rejected": rejected, "seconds": time.monotonic() - start}


if __name__ == "__main__":
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    print(json.dumps(import_csv(sys.argv[1], sys.argv[2], batch)))
