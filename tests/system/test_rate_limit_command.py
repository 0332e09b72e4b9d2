#!/usr/bin/python3
"""`celeriac rate-limit` against a real redis-server: sets, clears and lists
the run-time rate limits in celeriac.rate_limits, validates the rate text,
and reports usage errors and an unreachable Redis with their exit codes."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import celeriac_bin, check, free_port, run_suite  # noqa: E402

KEY = "celeriac.rate_limits"
EXIT_USAGE = 64
EXIT_UNAVAILABLE = 69


def rate_limit(*args, broker=None, env=None):
    cmd = [celeriac_bin(), "rate-limit", *args]
    if broker:
        cmd += ["--broker", broker]
    full_env = {k: v for k, v in os.environ.items() if k != "CELERIAC_BROKER_URL"}
    full_env.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=full_env)
    return p.returncode, p.stdout, p.stderr


def stored(r):
    return {k.decode(): v.decode() for k, v in r.hgetall(KEY).items()}


def test_set_list_clear(env):
    srv = env.redis()
    r = srv.client()
    code, out, err = rate_limit(broker=srv.url)
    check(code == 0 and out == "", f"an empty list prints nothing on stdout: {code} {out!r} {err!r}")
    check("no run-time rate limits" in err, f"and says so on stderr: {err!r}")

    code, out, err = rate_limit("tasks.add", "10/m", broker=srv.url)
    check(code == 0, f"set: exit {code}, {err!r}")
    check(stored(r) == {"tasks.add": "10/m"}, f"stored: {stored(r)}")
    check("tasks.add: 10/m" in out and "was: not set" in out, f"set says what it did: {out!r}")

    code, out, _ = rate_limit("tasks.add", "5/s", broker=srv.url)
    check(code == 0 and "was: 10/m" in out, f"a second set replaces the first and says so: {out!r}")
    code, out, _ = rate_limit("tasks.mul", "off", broker=srv.url)
    check(code == 0 and "no limit" in out, f"off: {out!r}")
    r.hset(KEY, "tasks.bad", "10/d")  # as an older or careless writer might leave it

    code, out, _ = rate_limit(broker=srv.url)
    lines = out.splitlines()
    check(code == 0 and len(lines) == 3, f"three entries listed: {out!r}")
    check(lines[0].split() == ["tasks.add", "5/s"], f"sorted by name, rate beside it: {lines}")
    check(lines[1].startswith("tasks.bad") and "ignored by workers" in lines[1] and "10/d" in lines[1],
          f"an entry workers cannot read is flagged: {lines[1]!r}")
    check(lines[2].split()[:2] == ["tasks.mul", "off"] and "(no limit)" in lines[2], f"off explained: {lines[2]!r}")

    code, out, _ = rate_limit("tasks.add", "--clear", broker=srv.url)
    check(code == 0 and "5/s removed" in out, f"clear: {code} {out!r}")
    check("tasks.add" not in stored(r), f"cleared from the hash: {stored(r)}")
    code, out, _ = rate_limit("tasks.add", "--clear", broker=srv.url)
    check(code == 0 and "nothing to clear" in out, f"clearing again is harmless: {code} {out!r}")


def test_bad_rates_and_usage(env):
    srv = env.redis()
    r = srv.client()
    for bad in ("10/d", "ten", "1/s/m", "offf"):
        code, _, err = rate_limit("tasks.add", bad, broker=srv.url)
        check(code == EXIT_USAGE, f"{bad!r}: exit {code}")
        check("tasks.add" in err and bad in err, f"the error names the task and the text: {err!r}")
    check(r.exists(KEY) == 0, "nothing stored for a bad rate")
    for args in (["tasks.add"], ["--clear"], ["tasks.add", "1/s", "--clear"], ["a", "1/s", "extra"]):
        code, _, err = rate_limit(*args, broker=srv.url)
        check(code == EXIT_USAGE, f"{args}: exit {code} ({err!r})")
        check("rate-limit" in err, f"{args}: the error names the command: {err!r}")
    code, out, _ = rate_limit("--help")
    check(code == 0 and "--clear" in out and "celeriac.rate_limits" in out, f"--help: {code} {out[:200]!r}")


def test_broker_from_environment_and_unreachable(env):
    srv = env.redis()
    r = srv.client()
    code, _, err = rate_limit("tasks.env", "3/h", env={"CELERIAC_BROKER_URL": srv.url})
    check(code == 0, f"CELERIAC_BROKER_URL is used: {code} {err!r}")
    check(stored(r) == {"tasks.env": "3/h"}, f"stored through the environment's broker: {stored(r)}")
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    code, _, err = rate_limit("tasks.add", "1/s", broker=nobody)
    check(code == EXIT_UNAVAILABLE and "cannot reach Redis" in err, f"unreachable: {code} {err!r}")
    r.set(KEY, "not a hash")
    code, _, err = rate_limit(broker=srv.url)
    check(code == 1 and KEY in err, f"a key of another type is reported: {code} {err!r}")


if __name__ == "__main__":
    run_suite("rate_limit_command", [
        ("set_list_clear", test_set_list_clear),
        ("bad_rates_and_usage", test_bad_rates_and_usage),
        ("broker_from_environment_and_unreachable", test_broker_from_environment_and_unreachable),
    ])
