"""Small support library for celeriac's system tests (tests/system/test_*.py).

Everything here is real: a private redis-server on a free loopback port in a
temporary folder, the real `celeriac worker` binary (CELERIAC_BIN), and
messages built exactly as Celery 5.2 / kombu 5.2 put them in Redis
(see shared/celery-wire/README.md section 2).

Rules kept here: only processes this module started are ever signalled, and
always by PID; every wait has a deadline; everything is cleaned up even when
a test fails.

Run by Debian's /usr/bin/python3 (it has redis-py 4.3). Environment:
CELERIAC_BIN (the binary), CELERIAC_SYSTEM_VERBOSE=1 (print the worker logs
of passing tests too), CELERIAC_SYSTEM_SEED (repeat a run's random choices).
"""

import base64
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def celeriac_bin():
    path = os.environ.get("CELERIAC_BIN")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        for build in ("build-system", "build"):
            cand = os.path.join(here, "..", "..", build, "worker", "celeriac")
            if os.path.exists(cand):
                path = os.path.abspath(cand)
                break
    if not path or not os.access(path, os.X_OK):
        raise SystemExit("CELERIAC_BIN is not set to an executable celeriac binary")
    return path


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def free_port():
    """A loopback TCP port that was free a moment ago."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port > 1024:
            return port
    raise RuntimeError("no free port found")


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value or timeout seconds pass.
    Returns the value; raises AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat[stat.rindex(")") + 2]
    return state not in ("Z", "X")


def proc_stat(pid):
    """(ppid, pgid) of pid, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] = state, [1] = ppid, [2] = pgrp
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[2])


def children_of(pid):
    """Live (non-zombie) child pids of pid, found by scanning /proc
    (this kernel has no /proc/<pid>/task/<tid>/children)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[0] == pid:
            out.append(int(name))
    return sorted(out)


def processes_in_group(pgid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[1] == pgid:
            out.append(int(name))
    return out


# ---------------------------------------------------------------------------
# Celery protocol v2 messages, as kombu 5.2 puts them in the queue list
# ---------------------------------------------------------------------------

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(dt):
    return dt.isoformat()


def make_message(task, args=(), kwargs=None, task_id=None, queue="celery", eta=None, expires=None,
                 delivery_tag=None):
    """One task message exactly as Celery's send_task + kombu's Redis
    transport store it (key order, separators, base64 body). eta/expires are
    aware datetimes or None. Returns (task_id, json_text)."""
    task_id = task_id or str(uuid.uuid4())
    kwargs = kwargs or {}
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = json.dumps([list(args), kwargs, embed])
    headers = {
        "lang": "py", "task": task, "id": task_id, "shadow": None,
        "eta": iso(eta) if eta else None, "expires": iso(expires) if expires else None,
        "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
        "root_id": task_id, "parent_id": None, "argsrepr": repr(tuple(args)),
        "kwargsrepr": repr(kwargs), "origin": f"gen{os.getpid()}@systemtest", "ignore_result": False,
    }
    properties = {
        "correlation_id": task_id, "reply_to": "6c7a5d1e-2b8f-3c49-9d0e-1f2a3b4c5d6e", "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue}, "priority": 0,
        "body_encoding": "base64", "delivery_tag": delivery_tag or str(uuid.uuid4()),
    }
    envelope = {
        "body": base64.b64encode(body.encode()).decode(), "content-encoding": "utf-8",
        "content-type": "application/json", "headers": headers, "properties": properties,
    }
    return task_id, json.dumps(envelope)


def enqueue(r, messages, queue="celery", chunk=1000):
    """LPUSHes message texts in order (the first one is served first), as a
    Celery client would, in pipelined chunks. Declares the binding like kombu."""
    r.sadd(f"_kombu.binding.{queue}", f"{queue}\x06\x16\x06\x16{queue}")
    for i in range(0, len(messages), chunk):
        pipe = r.pipeline(transaction=False)
        for m in messages[i:i + chunk]:
            pipe.lpush(queue, m)
        pipe.execute()


def decode(message_text):
    """(envelope dict, [args, kwargs, embed]) of a message text."""
    env = json.loads(message_text)
    body = json.loads(base64.b64decode(env["body"]))
    return env, body


def get_meta(r, task_id):
    raw = r.get(f"celery-task-meta-{task_id}")
    return json.loads(raw) if raw is not None else None


def get_metas(r, ids, chunk=1000):
    """{id: meta dict or None} for many ids, with MGET in chunks."""
    out = {}
    ids = list(ids)
    for i in range(0, len(ids), chunk):
        part = ids[i:i + chunk]
        vals = r.mget([f"celery-task-meta-{t}" for t in part])
        for t, v in zip(part, vals):
            out[t] = json.loads(v) if v is not None else None
    return out


def parse_date_done(meta):
    """date_done (naive UTC isoformat) as an aware datetime."""
    return datetime.datetime.fromisoformat(meta["date_done"]).replace(tzinfo=datetime.timezone.utc)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

class RedisServer:
    """A private redis-server on 127.0.0.1:port, data in dir."""

    def __init__(self, workdir, port=None, persistent=False):
        self.port = port or free_port()
        self.dir = os.path.join(workdir, f"redis-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.persistent = persistent
        self.proc = None
        self.log_path = os.path.join(self.dir, "redis.log")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=10):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--daemonize", "no", "--logfile", self.log_path, "--save", ""]
        if self.persistent:
            # An append-only file in dir: a SIGTERMed Redis flushes and fsyncs
            # it before it exits, and loads it again when restarted in the same
            # dir, so every acknowledged write survives the restart.
            # (appendfsync everysec, not always: "always" fsyncs each of the
            # worker's writes and made the outage test ~10x slower here; it
            # only matters for a crash, and this Redis is stopped cleanly.)
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client = self.client()
                if client.ping():
                    # Another test's server may hold the port (both were
                    # handed it before either bound it): then ours fails to
                    # bind, but that one answers. Only our own will do.
                    pid = client.info("server")["process_id"]
                    if pid != self.proc.pid:
                        raise RuntimeError(f"port {self.port} is answered by another redis-server (pid {pid}), "
                                           f"not the one started here (pid {self.proc.pid})")
                    break
            except redis.exceptions.ConnectionError:
                pass
            except redis.exceptions.BusyLoadingError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() >= deadline:
                raise RuntimeError("redis-server did not answer PING")
            time.sleep(0.05)
        return self

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=30,
                           socket_connect_timeout=5)

    def stop(self, timeout=15):
        """SIGTERM by PID (Redis saves/fsyncs what its config says), then
        SIGKILL after timeout."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except FileNotFoundError:
            return ""


SUCCESS_LINE = re.compile(r"Task (\S+)\[([0-9a-f-]+)\] succeeded in")


class Worker:
    """A `celeriac worker` parent process with its log in a file. It gets
    its own session, so no terminal signal reaches it by accident; cleanup
    signals only the parent and the processes of that session, by PID."""

    def __init__(self, workdir, broker_url, name, concurrency=1, prefetch=4, visibility_timeout=3600,
                 queues="celery", extra=(), loglevel="info"):
        self.name = name
        self.log_path = os.path.join(workdir, f"worker-{name}.log")
        self.args = [celeriac_bin(), "worker", "-b", broker_url, "-Q", queues, "-c", str(concurrency),
                     "--prefetch-multiplier", str(prefetch), "--visibility-timeout", str(visibility_timeout),
                     "-n", f"{name}@systemtest", "-l", loglevel, *extra]
        self.proc = None
        self.seen_children = set()

    def start(self, wait_children=True, timeout=20):
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            logf.close()
        if wait_children:
            n = int(self.args[self.args.index("-c") + 1])
            wait_until(lambda: len(self.children()) >= n or self.proc.poll() is not None, timeout,
                       what=f"{n} worker children of {self.name}")
            check(self.proc.poll() is None, f"worker {self.name} exited at start: {self.proc.returncode}")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def children(self):
        if not self.proc or self.proc.poll() is not None:
            return []
        kids = children_of(self.proc.pid)
        self.seen_children.update(kids)
        return kids

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill_child(self, pid):
        """SIGKILLs pid, but only if it is still a child of this worker."""
        st = proc_stat(pid)
        if st is None or st[0] != self.proc.pid:
            return False
        os.kill(pid, signal.SIGKILL)
        return True

    def wait(self, timeout):
        """Waits for the parent to exit; returns its exit code (raises
        AssertionError on timeout)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker {self.name} (pid {self.proc.pid}) did not exit within {timeout}s")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout, what=None):
        return wait_until(lambda: needle in self.log(), timeout, what=what or f"'{needle}' in {self.name}'s log")

    def success_counts(self):
        """{task id: number of 'succeeded' log lines} (one per completed run)."""
        counts = {}
        for m in SUCCESS_LINE.finditer(self.log()):
            counts[m.group(2)] = counts.get(m.group(2), 0) + 1
        return counts

    def stop(self):
        """Kills whatever is left: children first (by PID, those of this
        worker's own session), then the parent."""
        if not self.proc:
            return
        pgid = self.proc.pid  # start_new_session: the parent leads its group
        for _ in range(3):
            pids = set(processes_in_group(pgid)) | set(p for p in self.seen_children if pid_alive(p))
            pids.discard(self.proc.pid)
            for p in pids:
                st = proc_stat(p)
                if st and (st[1] == pgid or st[0] == self.proc.pid):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            if not processes_in_group(pgid):
                break
            time.sleep(0.1)


def summarize_log(text, max_lines=400):
    """The log with per-task 'succeeded' lines collapsed, capped in length."""
    lines = text.splitlines()
    out = []
    skipped = 0
    for ln in lines:
        if SUCCESS_LINE.search(ln):
            skipped += 1
            continue
        out.append(ln)
    head = [f"({skipped} 'Task ... succeeded' lines left out)"] if skipped else []
    if len(out) > max_lines:
        out = out[:100] + [f"... ({len(out) - max_lines} lines left out) ..."] + out[-(max_lines - 100):]
    return "\n".join(head + out)


# ---------------------------------------------------------------------------
# Test environment and runner
# ---------------------------------------------------------------------------

class Env:
    """Per-test resources, all released by close()."""

    def __init__(self, test_name):
        self.dir = tempfile.mkdtemp(prefix=f"celeriac-system-{test_name}-")
        self.redises = []
        self.workers = []

    def redis(self, persistent=False, port=None, start=True):
        srv = RedisServer(self.dir, port=port, persistent=persistent)
        self.redises.append(srv)
        return srv.start() if start else srv

    def worker(self, broker_url, name=None, start=True, **kw):
        w = Worker(self.dir, broker_url, name or f"w{len(self.workers) + 1}", **kw)
        self.workers.append(w)
        return w.start() if start else w

    def dump_logs(self):
        for w in self.workers:
            print(f"----- log of worker {w.name} ({w.log_path}) -----")
            print(summarize_log(w.log()))
        for srv in self.redises:
            tail = srv.log_tail()
            if tail:
                print(f"----- tail of redis-server :{srv.port} log -----")
                print(tail)

    def close(self):
        for w in self.workers:
            try:
                w.stop()
            except Exception:
                traceback.print_exc()
        for srv in self.redises:
            try:
                srv.stop()
            except Exception:
                traceback.print_exc()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_suite(suite_name, tests):
    """Runs each (name, fn(env)) test with its own Env; prints the worker
    logs of a failed test; exits non-zero on any failure."""
    celeriac_bin()  # fail early without a binary
    passed = failed = 0
    suite_start = time.monotonic()
    for name, fn in tests:
        env = Env(name)
        start = time.monotonic()
        print(f"=== {suite_name}.{name}", flush=True)
        try:
            fn(env)
            passed += 1
            print(f"--- PASS {name} ({time.monotonic() - start:.1f}s)", flush=True)
            if os.environ.get("CELERIAC_SYSTEM_VERBOSE"):
                env.dump_logs()
        except BaseException as e:  # noqa: BLE001 - report everything, then clean up
            failed += 1
            print(f"--- FAIL {name} ({time.monotonic() - start:.1f}s): {e}", flush=True)
            traceback.print_exc(file=sys.stdout)
            env.dump_logs()
            if isinstance(e, KeyboardInterrupt):
                break
        finally:
            env.close()
            sys.stdout.flush()
    print(f"({time.monotonic() - suite_start:.1f}s)")
    print(f"{suite_name}: {passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def log(msg):
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rng(seed_env="CELERIAC_SYSTEM_SEED"):
    seed = int(os.environ.get(seed_env) or time.time_ns() % 1_000_000)
    log(f"random seed {seed} (set {seed_env} to repeat)")
    return random.Random(seed)
