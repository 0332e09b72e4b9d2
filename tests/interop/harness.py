"""Shared helpers for celeriac's Celery interop tests.

Everything here starts real processes: a private redis-server on a free
loopback port, `celeriac worker`, and Debian's Celery 5.2 worker
(`/usr/bin/python3 -m celery`). Every process started is tracked and
stopped at exit (atexit, SIGTERM/SIGINT/SIGHUP), and each direct child gets
PR_SET_PDEATHSIG so nothing outlives a test runner that is killed outright.

Run the scripts with /usr/bin/python3 (the only interpreter with celery and
redis-py). CELERIAC_BIN names the celeriac binary (ctest sets it).
"""

import atexit
import ctypes
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
SYSTEM_PYTHON = "/usr/bin/python3"

_tracked = []   # every Managed process started, for the atexit clean-up
_all_logs = []  # (title, path) of every log file, printed when a test fails
_tmp_root = None
_printed = set()  # log files already shown


# ---------------------------------------------------------------------------
# Basics
# ---------------------------------------------------------------------------

def tmp_root():
    global _tmp_root
    if _tmp_root is None:
        _tmp_root = tempfile.mkdtemp(prefix="celeriac-interop-")
    return _tmp_root


def celeriac_bin():
    path = os.environ.get("CELERIAC_BIN")
    if path:
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"CELERIAC_BIN={path} is not an executable")
        return path
    for build in ("build-interop", "build"):
        candidate = os.path.join(SOURCE_DIR, build, "worker", "celeriac")
        if os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("set CELERIAC_BIN to the celeriac binary (ctest does this)")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, message=None):
    """Polls predicate() until it returns something truthy; returns that value.
    Raises AssertionError with `message` (a string or a callable giving one)
    when the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s waiting for: {text or predicate}")
        time.sleep(interval)


def utcnow_naive():
    """Naive UTC now, the form Celery's date_done uses."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def parse_date_done(text):
    return datetime.datetime.fromisoformat(text)


try:  # loaded here, not in the forked child: preexec_fn must stay trivial
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _libc = None


def _pdeathsig():
    # Runs in the child between fork and exec: die with the test runner.
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def process_group_members(pgid):
    """PIDs of the live (non-zombie) processes in a process group."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] = state, [1] = ppid, [2] = pgrp
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(entry))
    return sorted(pids)


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return sorted(int(p) for p in f.read().split())
    except OSError:
        return []


# ---------------------------------------------------------------------------
# Managed processes
# ---------------------------------------------------------------------------

class Managed:
    """A process started in its own session (so its whole group can be
    signalled), with stdout+stderr going to a log file."""

    def __init__(self, title, argv, env=None, cwd=None):
        self.title = title
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.proc = None
        self.log_path = None

    def start(self):
        self.started_at = time.time()
        fd, self.log_path = tempfile.mkstemp(prefix=self.title.replace(" ", "_") + "-", suffix=".log",
                                             dir=tmp_root())
        with os.fdopen(fd, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, cwd=self.cwd, start_new_session=True,
                                         preexec_fn=_pdeathsig)
        _tracked.append(self)
        _all_logs.append((f"{self.title} (pid {self.proc.pid}): {' '.join(self.argv)}", self.log_path))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        if not self.log_path:
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout, count=1):
        """Waits until `text` appears `count` times in the log."""
        def seen():
            if self.proc.poll() is not None and self.log().count(text) < count:
                raise AssertionError(f"{self.title} exited with {self.proc.returncode} before logging "
                                     f"{text!r}:\n{self.log_tail()}")
            return self.log().count(text) >= count
        wait_until(seen, timeout, interval=0.1, message=f"{self.title} to log {text!r} x{count}")

    def log_tail(self, lines=150):
        return "\n".join(self.log().splitlines()[-lines:])

    def send_signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)

    def kill_group(self, sig=signal.SIGKILL):
        """Signals the whole process group (the process and its children)."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Sends `sig` to the process, waits up to `timeout`, then SIGKILLs the
        whole group; also reaps any of the group left behind."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_group(signal.SIGKILL)
                self.proc.wait(10)
        # Children left over in the group (e.g. after a SIGKILL of the parent).
        if process_group_members(self.proc.pid):
            self.kill_group(signal.SIGKILL)
            wait_until(lambda: not process_group_members(self.proc.pid), 10,
                       message=f"{self.title}'s process group to exit")
        if self in _tracked:
            _tracked.remove(self)
        return self.proc.returncode

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None and not issubclass(exc_type, unittest.SkipTest):
            print_log(self.title, self.log_path)
        return False


def print_log(title, path, lines=200):
    _printed.add(path)
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return
    tail = text.splitlines()[-lines:]
    sys.stderr.write(f"\n----- log of {title} (last {len(tail)} lines) -----\n")
    sys.stderr.write("\n".join(tail) + "\n")
    sys.stderr.write(f"----- end of log of {title} -----\n")
    sys.stderr.flush()


def _cleanup():
    for p in list(_tracked):
        try:
            if p.proc is not None and p.proc.poll() is None:
                p.kill_group(signal.SIGTERM)
                try:
                    p.proc.wait(3)
                except subprocess.TimeoutExpired:
                    pass
            p.kill_group(signal.SIGKILL)
            if p.proc is not None:
                p.proc.wait(5)
        except Exception:
            pass
    _tracked.clear()
    if _tmp_root and os.environ.get("CELERIAC_INTEROP_KEEP_TMP") != "1":
        shutil.rmtree(_tmp_root, ignore_errors=True)


atexit.register(_cleanup)


def _on_signal(signum, frame):
    sys.stderr.write(f"interop: got signal {signum}; cleaning up\n")
    _cleanup()
    os._exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

class RedisServer(Managed):
    """A private redis-server on a free loopback port, no persistence."""

    def __init__(self):
        super().__init__("redis-server", [])
        self.port = None
        self.dir = None

    def start(self):
        last = None
        for _ in range(5):
            self.port = free_port()
            self.dir = tempfile.mkdtemp(prefix="redis-", dir=tmp_root())
            self.argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                         "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"]
            super().start()
            try:
                wait_until(self._ping, 10, message=f"redis-server on port {self.port} to answer PING")
                return self
            except AssertionError as e:
                last = e
                self.stop(timeout=5)  # e.g. the port was taken meanwhile: try another
        raise RuntimeError(f"could not start redis-server: {last}\n{self.log_tail()}")

    def _ping(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited ({self.proc.returncode}):\n{self.log_tail()}")
        try:
            client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
            if not client.ping():
                return False
            # Another test's server may hold the port (both were handed it
            # before either bound it): then ours fails to bind, but that one
            # answers. Only our own process will do.
            pid = client.info("server")["process_id"]
        except redis.exceptions.ConnectionError:
            return False
        if pid != self.proc.pid:
            raise AssertionError(f"port {self.port} is answered by another redis-server (pid {pid})")
        return True

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, decode=True):
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=decode)


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------

class CeleriacWorker(Managed):
    """`celeriac worker` with the given flags; log captured to a file."""

    def __init__(self, broker_url, queues="celery", concurrency=1, extra=(), name=None, loglevel="info"):
        self.node = name or f"celeriac-{free_port()}@interop"
        argv = [celeriac_bin(), "worker", "-b", broker_url, "-Q", queues, "-c", str(concurrency), "-n", self.node,
                "-l", loglevel] + list(extra)
        super().__init__(f"celeriac worker {self.node}", argv)
        self.concurrency = concurrency
        self.queues = [q for q in queues.split(",") if q]
        self.broker_url = broker_url

    def wait_ready(self, r, timeout=20):
        """Ready = all children forked and every queue's binding declared."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.title} exited with {self.proc.returncode}:\n{self.log_tail()}")
            return (len(children_of(self.pid)) >= self.concurrency and
                    all(r.exists(f"_kombu.binding.{q}") for q in self.queues))
        wait_until(ready, timeout, message=f"{self.title} to start")
        return self

    def pids(self):
        return [self.pid] + children_of(self.pid)


class PythonCeleryWorker(Managed):
    """Debian's Celery 5.2 worker running tests/interop/celery_app.py."""

    def __init__(self, broker_url, queues="celery", pool="solo", concurrency=1, visibility_timeout=None,
                 acks_late=False, prefetch_multiplier=None, name=None, loglevel="INFO", backend_url=None):
        self.node = name or f"py-{free_port()}@interop"
        argv = [SYSTEM_PYTHON, "-m", "celery", "-A", "celery_app", "worker", "-P", pool, "-c", str(concurrency),
                "-Q", queues, "-n", self.node, "-l", loglevel, "--without-gossip", "--without-mingle",
                "--without-heartbeat"]
        if prefetch_multiplier is not None:
            argv += ["--prefetch-multiplier", str(prefetch_multiplier)]
        env = dict(os.environ)
        env.update(celery_env(broker_url, backend_url, visibility_timeout, acks_late))
        env["PYTHONPATH"] = HERE + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        super().__init__(f"celery worker {self.node}", argv, env=env, cwd=HERE)

    def wait_ready(self, timeout=40):
        self.wait_log(" ready.", timeout)
        return self


def celery_env(broker_url, backend_url=None, visibility_timeout=None, acks_late=False):
    """The environment celery_app.py reads its configuration from."""
    env = {"CELERIAC_INTEROP_BROKER": broker_url, "CELERIAC_INTEROP_BACKEND": backend_url or broker_url}
    if visibility_timeout is not None:
        env["CELERIAC_INTEROP_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
    if acks_late:
        env["CELERIAC_INTEROP_ACKS_LATE"] = "1"
    return env



def redis_with_celery_app():
    """A private Redis, this process's environment pointed at it, and
    celery_app imported (it reads its URLs at import): (server, client, module)."""
    server = RedisServer().start()
    os.environ.update(celery_env(server.url))
    import celery_app
    return server, server.client(), celery_app

# ---------------------------------------------------------------------------
# Redis state helpers
# ---------------------------------------------------------------------------

def result_meta(r, task_id):
    raw = r.get(f"celery-task-meta-{task_id}")
    return json.loads(raw) if raw is not None else None


def wait_meta(r, task_id, timeout=30, states=("SUCCESS", "FAILURE", "REVOKED")):
    return wait_until(lambda: (lambda m: m if m and m["status"] in states else None)(result_meta(r, task_id)),
                      timeout, interval=0.05, message=f"a ready result for task {task_id}")


def dead_letters(r):
    """The celeriac.dead entries, parsed. Read as bytes and decoded with
    surrogateescape, so an entry that is not valid UTF-8 still parses (its
    odd bytes come back as lone surrogates; see raw_bytes())."""
    return [json.loads(x.decode("utf-8", "surrogateescape")) for x in raw_dead_letters(r)]


def raw_dead_letters(r):
    """The celeriac.dead entries as the exact bytes stored."""
    return r.execute_command("LRANGE", "celeriac.dead", 0, -1, NEVER_DECODE=True)


def raw_bytes(entry):
    """The exact bytes of the refused message recorded in a dead-letter entry."""
    import base64
    if "raw_base64" in entry:
        return base64.b64decode(entry["raw_base64"])
    return entry["raw"].encode("utf-8", "surrogateescape")


def unacked_count(r):
    return r.hlen("unacked")


def make_envelope(task, task_id, args=(), kwargs=None, queue="celery", **header_overrides):
    """A Celery protocol-2 JSON envelope, the bytes kombu would LPUSH."""
    import base64
    import uuid
    body = json.dumps([list(args), kwargs or {}, {"callbacks": None, "errbacks": None, "chain": None,
                                                   "chord": None}])
    headers = {"lang": "py", "task": task, "id": task_id, "shadow": None, "eta": None, "expires": None,
               "group": None, "group_index": None, "retries": 0, "timelimit": [None, None], "root_id": task_id,
               "parent_id": None, "argsrepr": repr(tuple(args)), "kwargsrepr": repr(kwargs or {}),
               "origin": "gen0@interop", "ignore_result": False}
    headers.update(header_overrides)
    return {"body": base64.b64encode(body.encode()).decode(), "content-encoding": "utf-8",
            "content-type": "application/json", "headers": headers,
            "properties": {"correlation_id": task_id, "reply_to": str(uuid.uuid4()), "delivery_mode": 2,
                           "delivery_info": {"exchange": "", "routing_key": queue}, "priority": 0,
                           "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())}}


# ---------------------------------------------------------------------------
# Running a script
# ---------------------------------------------------------------------------

def run(name, module_globals):
    """Runs the unittest cases of a script, prints the logs of every process
    started when something failed, and exits with the outcome."""
    started = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_globals["__name__"]])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    failed_tests = {id(t) for t, _ in result.failures + result.errors} | {id(t) for t in result.unexpectedSuccesses}
    passed = max(0, result.testsRun - len(failed_tests) - len(result.skipped) - len(result.expectedFailures))
    if failed:
        for title, path in _all_logs:
            if path not in _printed:
                print_log(title, path)
    _cleanup()
    print(f"{name}: {passed} passed, {failed} failed"
          + (f", {len(result.skipped)} skipped" if result.skipped else "")
          + (f", {len(result.expectedFailures)} expected failures" if result.expectedFailures else "")
          + f" ({time.monotonic() - started:.1f}s)")
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit, not sys.exit: the servers are gone by now, and finalizers
    # such as Celery's AsyncResult.__del__ would retry reconnecting to the
    # result backend for ~20 s.
    os._exit(1 if failed or result.testsRun == 0 else 0)
