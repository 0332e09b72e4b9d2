"""Interop: `celeriac revoke` speaks Celery's remote control.

A kombu 5.2 pidbox Node (the very class Celery's worker answers control
commands with, with a stand-in `revoke` handler) listens as py@test; the
command's broadcast must be decoded by kombu's own consumer, reach the
handler with Celery's arguments, and the handler's reply (sent back through
kombu's reply path) must be printed as `celery control revoke` prints it.
The ids must be kept in `celeriac.revoked` with the right expiry, also when
no worker listens, and the reply queue must be gone afterwards.

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_revoke.py
"""

import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RedisServer, wait_until  # noqa: E402

from celery import Celery  # noqa: E402

SERVER = None
R = None


def setUpModule():
    global SERVER, R
    SERVER = RedisServer().start()
    R = SERVER.client()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


def celeriac(*args, timeout=30):
    return subprocess.run([harness.celeriac_bin(), *args], capture_output=True, text=True, timeout=timeout)


class KombuNode:
    """kombu's pidbox Node for `name`, draining events on a thread."""

    def __init__(self, name):
        self.received = []
        self.app = Celery("revoketest", broker=SERVER.url)
        self.conn = self.app.connection()
        self.node = self.app.control.mailbox.Node(name, handlers={"revoke": self.revoke},
                                                  channel=self.conn.default_channel)
        self.consumer = self.node.listen()
        self.stopping = False
        self.thread = threading.Thread(target=self.drain, daemon=True)
        self.thread.start()

    def revoke(self, state, task_id, terminate=False, signal=None, **kwargs):
        self.received.append({"task_id": task_id, "terminate": terminate, "signal": signal})
        ids = task_id if isinstance(task_id, list) else [task_id]
        return {"ok": f"tasks {', '.join(ids)} flagged as revoked"}

    def drain(self):
        while not self.stopping:
            try:
                self.conn.drain_events(timeout=0.2)
            except Exception:  # socket.timeout, and the connection closing at stop
                pass

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.consumer.cancel()
        self.conn.close()


def listening():
    return R.execute_command("PUBSUB", "NUMPAT") >= 1


class RevokeCommand(unittest.TestCase):
    def test_a_kombu_node_obeys_and_its_reply_is_printed(self):
        node = KombuNode("py@test")
        try:
            wait_until(listening, 10, message="kombu's node to PSUBSCRIBE the pidbox")
            before = time.time()
            done = celeriac("revoke", "id1", "id2", "--terminate", "--signal", "kill", "--timeout", "3",
                            "-d", "py@test", "-b", SERVER.url)
            elapsed = time.time() - before
        finally:
            node.stop()
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(node.received, [{"task_id": ["id1", "id2"], "terminate": True, "signal": "SIGKILL"}])
        self.assertEqual(done.stdout, "->  py@test: OK\n        tasks id1, id2 flagged as revoked\n")
        self.assertLess(elapsed, 2.5, "one destination: the command returns at its reply, not at --timeout")
        for task_id in ("id1", "id2"):
            expires = R.zscore("celeriac.revoked", task_id)
            self.assertIsNotNone(expires, task_id)
            self.assertAlmostEqual(expires, before + 10800, delta=5)
        self.assertEqual(R.keys("*.reply.celery.pidbox*"), [])
        self.assertEqual(R.scard("_kombu.binding.reply.celery.pidbox"), 0)

    def test_no_worker_listening_still_stores_the_id(self):
        before = time.time()
        done = celeriac("revoke", "id3", "--revoked-expires", "60", "--timeout", "0.3", "-b", SERVER.url)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "")
        self.assertIn("No nodes replied within time constraint", done.stderr)
        self.assertIn("stored", done.stderr)
        self.assertAlmostEqual(R.zscore("celeriac.revoked", "id3"), before + 60, delta=5)

    def test_usage_errors(self):
        self.assertEqual(celeriac("revoke", "-b", SERVER.url).returncode, 64)
        bad_signal = celeriac("revoke", "x", "--terminate", "--signal", "SIGNOPE", "-b", SERVER.url)
        self.assertEqual(bad_signal.returncode, 64)
        self.assertIn("SIGNOPE", bad_signal.stderr)
        self.assertEqual(celeriac("revoke", "x", "--signal", "KILL", "-b", SERVER.url).returncode, 64)
        self.assertIsNone(R.zscore("celeriac.revoked", "x"))

    def test_unreachable_broker(self):
        done = celeriac("revoke", "x", "-b", f"redis://127.0.0.1:{harness.free_port()}/0")
        self.assertEqual(done.returncode, 69)
        self.assertIn("cannot connect", done.stderr)


if __name__ == "__main__":
    harness.run("interop_revoke", globals())
