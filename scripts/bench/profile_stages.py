"""Where a no-op task's CPU goes, in Redis and in the worker, by stage.

Run through scripts/bench-profile. One private Redis, N pre-enqueued
`celeriac.noop` messages drained by a `-c 2` worker with results off and on,
while `perf record` samples the Redis server and the worker's processes.
Samples are grouped into stages by symbol (the groups below) and each
stage's share is multiplied by the CPU per task measured over the same drain
(as scripts/bench-cpu measures it; perf's own sampling adds a few percent).

Debian's redis-server is stripped: its Lua internals show as bare addresses
between the Lua API's exported symbols, so they form one group, and the cost
of interning a string (Redis's Lua hashes every byte of every string it
creates) is measured apart with EVAL. So is what storing a result costs
Redis whoever writes it (a plain client pipelining Celery's SET EX + PUBLISH).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cpu_bench  # noqa: E402
import throughput  # noqa: E402

WORKER_STAGES = [
    ("allocation (malloc/free)", r"malloc|free|_int_|unlink_chunk|operator new|operator delete|realloc|tcache"),
    ("decoding: JSON, base64, the task message", r"simdjson|json::|base64|decode_message|read_headers|read_properties|"
     r"read_body|task_message|signatures_of|__do_visit|basic_string|_M_assign|_M_replace|_M_create"),
    ("Redis I/O: RESP, sockets, epoll", r"resp::|redis::|kombu_transport|readv|writev|recv|send|epoll|_copy_to_iter|"
     r"_copy_from_iter|tcp_|skb|sock"),
    ("bookkeeping: held messages, executor hand-off, slots", r"consumer::on_fetched|make_ready|held_message|_Rb_tree|"
     r"executor::|child_slot|futex|pthread|condition|mutex|resolve_time_limits|deque"),
    ("outcomes: result metas, acks", r"on_outcome|consumer::finish|result_meta|meta_context|outcome|encode_|fmt::|"
     r"iso8601|dump"),
    ("copies (memmove, memcmp)", r"memmove|memcmp|memcpy|memchr|strlen"),
]
REDIS_STAGES = [
    ("Lua (interpreter, string interning, GC)", None),
    ("hash, zset, set and list commands", r"dict|siphash|zsl|^lp[A-Z]|zset|hashType|setType|intset|quicklist|"
     r"lookupKey|dbAdd|setKey|setExpire|Command$"),
    ("memory (jemalloc, objects)", r"malloc|zfree|free|realloc|sds|decrRefCount|createStringObject|createEmbedded"),
    ("copies (memmove, memcmp)", r"memmove|memcmp|memcpy|memchr|strchr|strlen"),
    ("network and replies", r"_copy_from_iter|_copy_to_iter|Reply|writev|read|write|tcp|skb|epoll|sock|ip_|net_"),
    ("float formatting and parsing (scores)", r"printf|mpn|hack_digit|strtod|fpconv|ld2string|string2ld"),
    ("kernel, other", r"^[a-z_]+$"),
]


def flat_profile(path):
    out = subprocess.run(["perf", "report", "-i", path, "--no-children", "--sort", "symbol", "--stdio", "-g", "none"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[(.)\]\s+(.*?)(\s+-\s+-)?\s*$", line)
        if m:
            yield float(m.group(1)), m.group(3)


def lua_text_range(binary):
    """The span of the Lua API's exported symbols in a stripped redis-server."""
    out = subprocess.run(["nm", "-D", binary], capture_output=True, text=True).stdout
    addrs = [int(a, 16) for a, _, name in (l.split() for l in out.splitlines() if len(l.split()) == 3)
             if re.match(r"luaL?_", name)]
    return (min(addrs), max(addrs) + 0x2000) if addrs else None


def stages(path, groups, lua_range=None):
    shares = {}
    for pct, sym in flat_profile(path):
        name = None
        if lua_range and sym.startswith("0x") and lua_range[0] <= int(sym, 16) < lua_range[1]:
            name = groups[0][0]
        if name is None and re.match(r"luaL?_", sym):
            name = groups[0][0]
        if name is None:
            name = next((g for g, rx in groups if rx and re.search(rx, sym)), "other")
        shares[name] = shares.get(name, 0.0) + pct
    total = sum(shares.values()) or 1.0
    return {k: v / total for k, v in shares.items()}


def perf_record(pids, out):
    return subprocess.Popen(["perf", "record", "-F", "1999", "-o", out, "-p", ",".join(str(p) for p in pids)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_drain(r, redis_pid, url, binary, n, results, tmp):
    r.flushdb()
    throughput.enqueue(r, n, ignore_result=not results)
    r.rename("celery", "celery.hold")
    argv = [binary, "worker", "-b", url, "-c", "2", "--prefetch-multiplier", "1000", "-l", "warning",
            "--result-backend", url if results else "none"]
    w = throughput.Proc(argv, os.path.join(tmp, "worker.log"))
    try:
        time.sleep(1.0)
        tag = "on" if results else "off"
        redis_data, worker_data = os.path.join(tmp, f"redis-{tag}.data"), os.path.join(tmp, f"worker-{tag}.data")
        perfs = [perf_record([redis_pid], redis_data),
                 perf_record([w.p.pid] + throughput.child_pids(w.p.pid), worker_data)]
        time.sleep(0.5)
        wb, rb = cpu_bench.tree_cpu(w.p.pid), cpu_bench.redis_cpu(r)
        r.rename("celery.hold", "celery")
        seconds = throughput.wait_drained(r, n, 900)
        wa, ra = cpu_bench.tree_cpu(w.p.pid), cpu_bench.redis_cpu(r)
        for p in perfs:
            p.send_signal(2)
        for p in perfs:
            p.wait()
    finally:
        w.stop()
    return n / seconds, (ra - rb) / n * 1e6, (wa - wb) / n * 1e6, redis_data, worker_data


def interning_ns_per_byte(r):
    """Cost of creating a Lua string in this Redis, per byte: 900-byte strings
    against 100-byte ones, the difference divided by 800."""
    def run(size):
        script = ("local m = string.rep('x', %d) local x for k = 1, 200000 do x = m .. k end return 1" % size)
        best = None
        for _ in range(3):
            before = cpu_bench.redis_cpu(r)
            r.eval(script, 0)
            spent = cpu_bench.redis_cpu(r) - before
            best = spent if best is None else min(best, spent)
        return best / 200000
    return (run(900) - run(100)) / 800 * 1e9


def result_write_floor_us(r, n=50000):
    """Redis CPU per result when a plain client pipelines what Celery's backend
    sends for each (SET key meta EX ttl, PUBLISH key meta): what storing a
    result costs Redis whoever writes it."""
    import json
    import uuid
    r.flushdb()
    metas = []
    for _ in range(n):
        tid = str(uuid.uuid4())
        metas.append((f"celery-task-meta-{tid}", json.dumps({
            "status": "SUCCESS", "result": None, "traceback": None, "children": [],
            "date_done": "2026-12-04T13:00:00.123456", "task_id": tid})))
    before = cpu_bench.redis_cpu(r)
    for k in range(0, n, 256):
        pipe = r.pipeline(transaction=False)
        for key, meta in metas[k:k + 256]:
            pipe.set(key, meta, ex=86400)
            pipe.publish(key, meta)
        pipe.execute()
    return (cpu_bench.redis_cpu(r) - before) / n * 1e6


def table(title, groups, shares, us):
    lines = [f"| {title} | share | µs/task |", "|---|---:|---:|"]
    for g in [g for g, _ in groups] + ["other"]:
        if g in shares:
            lines.append(f"| {g} | {shares[g] * 100:.0f}% | {shares[g] * us:.1f} |")
    lines.append(f"| **total** | 100% | **{us:.1f}** |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("-n", type=int, default=200000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="celeriac-profile-")
    redis_proc, r, url = throughput.start_private_redis(tmp)
    redis_binary = os.path.realpath(f"/proc/{redis_proc.p.pid}/exe")
    lua_range = lua_text_range(redis_binary)
    try:
        per_byte = interning_ns_per_byte(r)
        floor = result_write_floor_us(r)
        for results in (False, True):
            rate, redis_us, worker_us, redis_data, worker_data = profile_drain(r, redis_proc.p.pid, url, args.celeriac,
                                                                               args.n, results, tmp)
            print(f"### Results {'on' if results else 'off'}: {rate:,.0f} tasks/s under perf\n")
            print(table("Redis", REDIS_STAGES, stages(redis_data, REDIS_STAGES, lua_range), redis_us))
            print()
            print(table("worker (supervisor + children)", WORKER_STAGES, stages(worker_data, WORKER_STAGES), worker_us))
            print()
        print(f"Creating a Lua string in this Redis costs {per_byte:.2f} ns per byte (every byte is hashed to intern "
              f"it): a ~850-byte envelope becomes two Lua strings in the fetch script (the popped message and its "
              f"unacked entry), about {2 * 850 * per_byte / 1000:.1f} µs per task.")
        print(f"Storing a result as Celery's backend does (SET EX + PUBLISH, pipelined by a plain client) costs this "
              f"Redis {floor:.1f} µs per result.")
    finally:
        redis_proc.stop()


if __name__ == "__main__":
    main()
