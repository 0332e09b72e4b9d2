"""Interop 4: garbage LPUSHed straight onto a queue a `celeriac worker`
consumes. Each bad message must be refused into the `celeriac.dead` list
with a sensible reason, get a FAILURE result when its task id is readable
(one Celery's client can turn back into an exception), and be acked; the
worker must keep running with the same processes and still run a valid
task afterwards.

For contrast (checked by hand against Debian's Celery 5.2.6 / kombu 5.2.4,
not asserted here): Celery's own worker does not survive the first case.
kombu json-decodes the popped string inside its event loop
(kombu/transport/redis.py, _brpop_read: loads(bytes_to_str(item))), the
JSONDecodeError escapes, and the worker logs
"CRITICAL/MainProcess] Unrecoverable error: JSONDecodeError('Expecting
value: line 1 column 1 (char 0)')" and exits (status 0); the message is gone
from the queue and was never recorded in `unacked`.

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_bad_input.py
"""

import base64
import json
import os
import pickle
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CeleriacWorker, RedisServer, make_envelope, wait_until  # noqa: E402

SERVER = None
WORKER = None
R = None
celery_app = None


def setUpModule():
    global SERVER, WORKER, R, celery_app
    SERVER = RedisServer().start()
    R = SERVER.client()
    os.environ.update(harness.celery_env(SERVER.url))
    import celery_app as module
    celery_app = module
    WORKER = CeleriacWorker(SERVER.url, queues="celery", concurrency=2).start()
    WORKER.wait_ready(R)


def tearDownModule():
    if celery_app is not None:
        celery_app.app.close()
    for p in (WORKER, SERVER):
        if p is not None:
            p.stop()


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def dumps(envelope):
    # kombu's json.dumps defaults: ensure_ascii, ", " and ": " separators.
    return json.dumps(envelope)


class Case:
    def __init__(self, label, raw, reason, task_id=None, exc_type=None, exc_module=None):
        self.label = label
        self.raw = raw  # str, or bytes for invalid UTF-8
        self.reason = reason  # expected dead-letter reason (prefix)
        self.task_id = task_id  # readable id: a FAILURE result is expected
        self.exc_type = exc_type
        self.exc_module = exc_module


def build_cases():
    cases = []
    no_tag_reason = "no_delivery_tag"

    cases.append(Case("non-JSON text", "this is not JSON {", no_tag_reason))
    cases.append(Case("invalid UTF-8 bytes", b"\xff\xfe\x00garbage\x80", no_tag_reason))
    cases.append(Case("JSON object, not an envelope", dumps({"hello": "world"}), no_tag_reason))
    cases.append(Case("JSON list", dumps([1, 2, 3]), no_tag_reason))

    tid = str(uuid.uuid4())
    env = {"headers": {"id": tid, "task": "celeriac.add"}, "properties": {"delivery_tag": str(uuid.uuid4())}}
    cases.append(Case("envelope-like object without a body", dumps(env), "bad_envelope", tid, "DecodeError",
                      "kombu.exceptions"))

    tid = str(uuid.uuid4())
    env = make_envelope("celeriac.add", tid, (1, 2))
    del env["properties"]["delivery_tag"]
    cases.append(Case("envelope without a delivery_tag", dumps(env), no_tag_reason, tid, "DecodeError",
                      "kombu.exceptions"))

    tid = str(uuid.uuid4())
    env = make_envelope("celeriac.add", tid, (1, 2))
    env["content-type"] = "application/x-python-serialize"
    env["content-encoding"] = "binary"
    env["body"] = b64(pickle.dumps(((1, 2), {}, {"callbacks": None, "errbacks": None, "chain": None,
                                                  "chord": None}), protocol=4))
    cases.append(Case("pickle", dumps(env), "unsupported_content_type", tid, "ContentDisallowed",
                      "kombu.exceptions"))

    tid = str(uuid.uuid4())
    env = make_envelope("celeriac.add", tid, (1, 2))
    env["body"] = "%%% not base64 !!!"
    cases.append(Case("body not base64", dumps(env), "bad_body_encoding", tid, "DecodeError", "kombu.exceptions"))

    tid = str(uuid.uuid4())
    env = make_envelope("celeriac.add", tid, (1, 2))
    env["body"] = b64("not json either")
    cases.append(Case("body base64 but not JSON", dumps(env), "bad_body", tid, "DecodeError", "kombu.exceptions"))

    tid = str(uuid.uuid4())
    env = make_envelope("celeriac.add", tid, (1, 2))
    env["body"] = b64(json.dumps({"args": [1, 2]}))
    cases.append(Case("body is an object", dumps(env), "bad_body", tid, "DecodeError", "kombu.exceptions"))

    tid = str(uuid.uuid4())
    env = make_envelope("celeriac.add", tid, (1, 2))
    env["body"] = b64(json.dumps([[1, 2], {}]))
    cases.append(Case("body of two elements", dumps(env), "bad_body", tid, "DecodeError", "kombu.exceptions"))

    tid = str(uuid.uuid4())
    env = make_envelope("celeriac.add", tid, (1, 2))
    env["body"] = b64(json.dumps([1, {}, None]))
    cases.append(Case("args not a list", dumps(env), "bad_body", tid, "DecodeError", "kombu.exceptions"))

    tid = str(uuid.uuid4())
    v1_body = {"task": "celeriac.add", "id": tid, "args": [1, 2], "kwargs": {}, "retries": 0, "eta": None,
               "expires": None, "utc": True, "callbacks": None, "errbacks": None, "timelimit": [None, None],
               "taskset": None, "chord": None}
    env = {"body": b64(json.dumps(v1_body)), "content-encoding": "utf-8", "content-type": "application/json",
           "headers": {}, "properties": {"correlation_id": tid, "reply_to": str(uuid.uuid4()), "delivery_mode": 2,
                                         "delivery_info": {"exchange": "", "routing_key": "celery"},
                                         "priority": 0, "body_encoding": "base64",
                                         "delivery_tag": str(uuid.uuid4())}}
    cases.append(Case("protocol v1", dumps(env), "protocol_v1", tid, "DecodeError", "kombu.exceptions"))

    tid = str(uuid.uuid4())
    env = make_envelope("celeriac.add", tid, (1, 2), eta="tomorrow at noon")
    cases.append(Case("unparsable eta header", dumps(env), "bad_header", tid, "DecodeError", "kombu.exceptions"))

    env = make_envelope("celeriac.add", "", (1, 2))
    env["properties"]["correlation_id"] = ""
    cases.append(Case("no task id anywhere", dumps(env), "missing_header"))

    tid = str(uuid.uuid4())
    cases.append(Case("unknown task", dumps(make_envelope("celeriac.nope", tid, (1,))), "unknown_task", tid,
                      "NotRegistered", "celery.exceptions"))

    tid = str(uuid.uuid4())
    cases.append(Case("add with one argument", dumps(make_envelope("celeriac.add", tid, (1,))), "bad_arguments",
                      tid, "TypeError", "builtins"))

    tid = str(uuid.uuid4())
    cases.append(Case("add with an unknown keyword", dumps(make_envelope("celeriac.add", tid, (1, 2), {"z": 3})),
                      "bad_arguments", tid, "TypeError", "builtins"))
    return cases


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cases = build_cases()
        cls.pids_before = WORKER.pids()
        assert len(cls.pids_before) == 3, cls.pids_before
        pipe = R.pipeline(transaction=False)
        for case in cls.cases:
            pipe.lpush("celery", case.raw)
        pipe.execute()
        cls.valid_id = str(uuid.uuid4())
        R.lpush("celery", dumps(make_envelope("celeriac.add", cls.valid_id, (2, 3))))
        # Everything is decided once the valid task (pushed last) is done
        # and nothing is queued or held any more.
        cls.valid_meta = harness.wait_meta(R, cls.valid_id, timeout=30)
        wait_until(lambda: R.llen("celery") == 0 and R.hlen("unacked") == 0 and R.zcard("unacked_index") == 0
                   and R.llen("celeriac.dead") >= len(cls.cases), 30,
                   message=lambda: f"the queue and unacked to drain (queue {R.llen('celery')}, unacked "
                                   f"{R.hlen('unacked')}, dead {R.llen('celeriac.dead')})")
        cls.dead = harness.dead_letters(R)

    def test_valid_task_succeeds(self):
        self.assertEqual(self.valid_meta["status"], "SUCCESS")
        self.assertEqual(self.valid_meta["result"], 5)

    def test_worker_kept_running_with_same_processes(self):
        self.assertTrue(WORKER.running())
        self.assertEqual(WORKER.pids(), self.pids_before)
        log = WORKER.log()
        for bad in ("crashed", "died", "starting a replacement", "CRITICAL"):
            self.assertNotIn(bad, log)
        # ...and still answers.
        again = celery_app.add.delay(20, 22)
        self.assertEqual(again.get(timeout=30), 42)

    def test_each_bad_message_dead_lettered_once(self):
        self.assertEqual(len(self.dead), len(self.cases), json.dumps(self.dead, indent=1)[:4000])
        for case in self.cases:
            with self.subTest(case.label):
                raw = case.raw if isinstance(case.raw, bytes) else case.raw.encode()
                found = [e for e in self.dead if harness.raw_bytes(e) == raw]
                self.assertEqual(len(found), 1, f"{case.label}: no dead-letter entry with its exact bytes")
                e = found[0]
                self.assertTrue(e["reason"].startswith(case.reason), f"{case.label}: reason {e['reason']!r}")
                self.assertEqual(e["queue"], "celery")
                self.assertTrue(e.get("time"), e)
                self.assertTrue(e.get("message"), f"{case.label}: empty message in {e}")

    def test_dead_entries_are_valid_utf8_json(self):
        """Every dead-letter entry is strict UTF-8 JSON, including those the
        fetch script writes for messages that are not UTF-8 at all (U+FFFD
        in "raw", the exact bytes in "raw_base64")."""
        for entry in harness.raw_dead_letters(R):
            json.loads(entry.decode("utf-8"))  # strict

    def test_dead_entries_have_one_shape(self):
        """Entries from the fetch script and from the worker have one shape:
        a machine-readable reason code plus a human message."""
        for e in self.dead:
            self.assertIn("message", e, e)
            self.assertRegex(e["reason"], r"^[a-z0-9_]+$", e)

    def test_failure_result_for_each_readable_id(self):
        for case in self.cases:
            if not case.task_id:
                continue
            with self.subTest(case.label):
                meta = harness.result_meta(R, case.task_id)
                self.assertIsNotNone(meta, f"{case.label}: no result for readable id {case.task_id}")
                self.assertEqual(meta["status"], "FAILURE")
                self.assertEqual(meta["task_id"], case.task_id)
                self.assertEqual(meta["result"]["exc_type"], case.exc_type, meta)
                self.assertEqual(meta["result"]["exc_module"], case.exc_module, meta)
                self.assertIsInstance(meta["result"]["exc_message"], list)
                # Celery's client turns it back into an exception.
                exc = celery_app.app.AsyncResult(case.task_id).get(timeout=5, propagate=False)
                self.assertIsInstance(exc, BaseException)
                self.assertEqual(type(exc).__name__, case.exc_type)

    def test_no_result_for_unreadable_ids(self):
        for key in ("celery-task-meta-", "celery-task-meta-None", "celery-task-meta-null"):
            self.assertFalse(R.exists(key), key)
        ids = {c.task_id for c in self.cases if c.task_id} | {self.valid_id}
        for key in R.scan_iter("celery-task-meta-*"):
            tid = key[len("celery-task-meta-"):]
            if tid not in ids:  # only the add.delay(20, 22) of another test
                self.assertEqual(json.loads(R.get(key))["result"], 42, key)

    def test_zz_nothing_left(self):
        wait_until(lambda: R.hlen("unacked") == 0 and R.zcard("unacked_index") == 0, 10,
                   message="unacked to be empty")
        self.assertEqual(R.llen("celery"), 0)
        for step in ("3", "6", "9"):
            self.assertEqual(R.llen("celery\x06\x16" + step), 0)


class ValidVariants(unittest.TestCase):
    """Valid protocol-2 envelopes serialized differently from kombu's
    json.dumps (other producers: celery-node's JSON.stringify, Go's
    encoding/json, serde_json, or Python with other separators). kombu's own
    consumer json-parses the whole envelope, so Celery runs every one."""

    def run_variant(self, dump):
        tid = str(uuid.uuid4())
        args = ("h\u00e9 \u2713", [1, {"a": None}])
        R.lpush("celery", dump(make_envelope("celeriac.echo", tid, args, {"k": "v"})))
        meta = harness.wait_meta(R, tid, timeout=20)
        self.assertEqual(meta["status"], "SUCCESS", meta)
        self.assertEqual(meta["result"], {"args": list(args), "kwargs": {"k": "v"}})

    def test_properties_first(self):
        self.run_variant(lambda e: json.dumps(dict(reversed(list(e.items())))))

    def test_indented(self):
        self.run_variant(lambda e: json.dumps(e, indent=2))

    def test_utf8_not_escaped(self):
        self.run_variant(lambda e: json.dumps(e, ensure_ascii=False))

    def test_compact_separators(self):
        """Envelopes written with compact separators (JSON.stringify, Go,
        serde) run: the fetch script finds '"delivery_tag":"' too."""
        self.run_variant(lambda e: json.dumps(e, separators=(",", ":")))


if __name__ == "__main__":
    harness.run("interop_bad_input", globals())
