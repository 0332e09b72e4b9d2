"""A private PostgreSQL for the Python integration tests of the jobs and
csv_import areas, started with scripts/start-postgres (a free loopback
port, a cluster in the test's temporary folder) and stopped with
scripts/stop-postgres, which signal only the server recorded in that
folder's postmaster.pid.

Also: the celeriac CLI (migrate, status, jobs) as subprocesses, and small
psycopg2 helpers. Imports tests/system/support.py for Redis, workers and
the test runner.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "system"))

import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402

import support  # noqa: E402,F401  (re-exported for the tests)
from support import celeriac_bin, check, wait_until  # noqa: E402

START = os.path.join(SOURCE, "scripts", "start-postgres")
STOP = os.path.join(SOURCE, "scripts", "stop-postgres")


class Postgres:
    """One server in DIR; url is set once started."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "pg")
        self.url = None
        self.port = None

    def start(self):
        # As root the server runs as an unprivileged user, which must be
        # able to reach its folder through the test's (mkdtemp: 0700) one.
        os.chmod(os.path.dirname(self.dir), 0o711)
        args = [START, self.dir] + ([str(self.port)] if self.port else [])
        out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)
        self.url = out.stdout.strip().splitlines()[-1]
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        return self

    def stop(self):
        if os.path.isdir(self.dir):
            subprocess.run([STOP, self.dir], capture_output=True, timeout=120)

    def restart(self):
        self.stop()
        self.start()

    def connect(self, autocommit=True):
        c = psycopg2.connect(self.url)
        c.autocommit = autocommit
        return c

    def query(self, sql, params=()):
        with self.connect() as c, c.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def scalar(self, sql, params=()):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


def with_postgres(env):
    """A started server, stopped when env closes (registered first in its
    close order by wrapping env.close)."""
    pg = Postgres(env.dir).start()
    close = env.close

    def close_all():
        try:
            pg.stop()
        finally:
            close()

    env.close = close_all
    return pg


def celeriac(*args, timeout=60, env=None):
    """Runs the celeriac binary; returns CompletedProcess (text)."""
    return subprocess.run([celeriac_bin(), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def migrate(pg, *extra):
    r = celeriac("migrate", "--database", pg.url, *extra)
    check(r.returncode == 0, f"celeriac migrate failed ({r.returncode}): {r.stderr}")
    return r


def job(pg, task_id):
    """The celeriac_jobs row as a dict, or None."""
    with pg.connect() as c, c.cursor() as cur:
        cur.execute("SELECT task_id, name, state, progress_done, progress_total, progress_unit, meta, error, "
                    "result, attempts, worker FROM celeriac_jobs WHERE task_id = %s", (task_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row))


def wait_state(pg, task_id, states, timeout):
    def look():
        try:
            j = job(pg, task_id)
        except psycopg2.OperationalError:
            return None
        return j if j and j["state"] in states else None
    return wait_until(look, timeout, interval=0.1, what=f"job {task_id} in {states}")


class Listener:
    """LISTEN celeriac_jobs on a connection of its own; collect() returns
    the rows announced so far, one dict per row (a payload is a JSON array
    of rows; older workers sent one row object per payload)."""

    def __init__(self, pg):
        import json
        self._json = json
        self.conn = pg.connect()
        self.conn.cursor().execute("LISTEN celeriac_jobs")
        self.payloads = []
        self.raw = []  # the payloads as received

    def collect(self, wait=0.0):
        import select
        if wait > 0:
            select.select([self.conn], [], [], wait)
        self.conn.poll()
        # One poll() reads about one buffer's worth: read on while more waits.
        while select.select([self.conn], [], [], 0)[0]:
            self.conn.poll()
        while self.conn.notifies:
            n = self.conn.notifies.pop(0)
            self.raw.append(n.payload)
            rows = self._json.loads(n.payload)
            self.payloads.extend(rows if isinstance(rows, list) else [rows])
        return self.payloads

    def close(self):
        self.conn.close()
