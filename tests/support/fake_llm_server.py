#!/usr/bin/python3
"""A local OpenAI-compatible chat-completions server for celeriac's tests,
benchmarks and demo. It is NOT a model: it answers from a keyword table.

    fake_llm_server.py --port 0 [--host 127.0.0.1] [--latency-ms N]
                       [--tls-cert CERT --tls-key KEY]

prints "LISTENING <port>" once it listens and serves until SIGTERM.

POST /v1/chat/completions (or /chat/completions): the last user message's
content is {"merchants": [{"i": 0, "name": "..."}, ...]}; the answer's
choices[0].message.content is {"mappings": [{"i", "category", "ticker",
"confidence"}, ...]} with usage counted at about 4 bytes per token.

Behaviour is steered over HTTP, so a test can change it between calls:
  POST /_control {"mode": M, "latency_ms": N, "retry_after": "2", "count": K,
                  "close_after_response": true | "announced" | false}
     modes: normal, status429 (with Retry-After), status500, slow (waits
     latency_ms, then answers), malformed (content that is not JSON),
     partial (answers the first half), bad_rows (invalid rows), garbage_body
     (a body that is not JSON). count K > 0 applies the mode to the next K
     chat requests only. latency_ms without a mode sets the fixed latency of
     every request; with mode "slow" it is that mode's delay.
     close_after_response: true closes every connection after its answer
     without a "Connection: close" header (a server dropping idle keep-alive
     connections); "announced" sends the header.
  GET /_stats   {"requests", "by_status", "merchants" (name -> times sent),
                 "request_times", "in_flight_max", "models", "auth", "connections"}
  POST /_reset  clears the stats, back to mode normal.
"""

import argparse
import json
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KNOWN = [
    ("starbucks", "Food & Drink", "SBUX"), ("amazon", "Shopping", "AMZN"), ("amzn", "Shopping", "AMZN"),
    ("uber", "Transportation", "UBER"), ("lyft", "Transportation", "LYFT"), ("walmart", "Groceries", "WMT"),
    ("shell", "Gas", "SHEL"), ("netflix", "Entertainment", "NFLX"), ("target", "Shopping", "TGT"),
    ("costco", "Groceries", "COST"), ("bakery", "Food & Drink", None), ("coffee", "Food & Drink", None),
]


class State:
    def __init__(self, latency_ms):
        self.lock = threading.Lock()
        self.base_latency_ms = latency_ms
        self.reset()

    def reset(self):
        self.mode = "normal"
        self.mode_latency_ms = 0
        self.retry_after = "1"
        self.count = 0
        self.close_after = False
        self.requests = 0
        self.by_status = {}
        self.merchants = {}
        self.request_times = []
        self.in_flight = 0
        self.in_flight_max = 0
        self.models = {}
        self.auth = []
        self.connections = 0

    def take_mode(self):
        """The mode for this request (counting down a limited one)."""
        with self.lock:
            mode = self.mode
            if mode != "normal" and self.count > 0:
                self.count -= 1
                if self.count == 0:
                    self.mode = "normal"
            return mode


def answer_for(name):
    low = name.lower()
    for key, category, ticker in KNOWN:
        if key in low:
            return category, ticker, 0.95
    return "Shopping", None, 0.9


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body go out in two writes: without NODELAY,
            # Nagle holds the body until the client's delayed ACK (~40 ms).
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with state.lock:
                state.connections += 1

        def log_message(self, *args):  # quiet
            pass

        def send_json(self, status, obj, headers=None, raw=None):
            body = raw if raw is not None else json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            # true: the connection is closed after the answer WITHOUT saying
            # so, as a server does to an idle keep-alive connection (the
            # client finds out when it reuses it); "announced": with
            # "Connection: close".
            if state.close_after == "announced":
                self.send_header("Connection", "close")
            if state.close_after:
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def read_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_GET(self):
            if self.path != "/_stats":
                return self.send_json(404, {"error": {"message": "not found"}})
            with state.lock:
                stats = {"requests": state.requests, "by_status": dict(state.by_status),
                         "merchants": dict(state.merchants), "request_times": list(state.request_times),
                         "in_flight_max": state.in_flight_max, "models": dict(state.models),
                         "auth": list(state.auth), "connections": state.connections}
            self.send_json(200, stats)

        def do_POST(self):
            body = self.read_body()
            if self.path == "/_reset":
                with state.lock:
                    state.reset()
                return self.send_json(200, {"ok": True})
            if self.path == "/_control":
                ctl = json.loads(body or b"{}")
                with state.lock:
                    if "mode" in ctl:
                        state.mode = ctl["mode"]
                        state.count = int(ctl.get("count", 0))
                        if "latency_ms" in ctl:
                            state.mode_latency_ms = int(ctl["latency_ms"])
                    elif "latency_ms" in ctl:
                        state.base_latency_ms = int(ctl["latency_ms"])
                    if "retry_after" in ctl:
                        state.retry_after = str(ctl["retry_after"])
                    if "close_after_response" in ctl:
                        v = ctl["close_after_response"]
                        state.close_after = v if v == "announced" else bool(v)
                return self.send_json(200, {"ok": True})
            if self.path not in ("/v1/chat/completions", "/chat/completions"):
                return self.send_json(404, {"error": {"message": f"no route {self.path}"}})
            self.chat(body)

        def chat(self, body):
            with state.lock:
                state.requests += 1
                state.request_times.append(time.time())
                state.in_flight += 1
                state.in_flight_max = max(state.in_flight_max, state.in_flight)
                auth = self.headers.get("Authorization")
                if auth:
                    state.auth.append(auth)
            try:
                status = self.chat_answer(body)
            finally:
                with state.lock:
                    state.in_flight -= 1
            with state.lock:
                state.by_status[str(status)] = state.by_status.get(str(status), 0) + 1

        def chat_answer(self, body):
            mode = state.take_mode()
            delay = state.base_latency_ms + (state.mode_latency_ms if mode == "slow" else 0)
            if delay:
                time.sleep(delay / 1000)
            try:
                req = json.loads(body)
                model = req.get("model", "")
                users = [m for m in req["messages"] if m.get("role") == "user"]
                merchants = json.loads(users[-1]["content"])["merchants"]
            except (ValueError, KeyError, IndexError, TypeError) as e:
                self.send_json(400, {"error": {"message": f"bad request: {e}", "type": "invalid_request_error"}})
                return 400
            with state.lock:
                state.models[model] = state.models.get(model, 0) + 1
                for m in merchants:
                    state.merchants[m["name"]] = state.merchants.get(m["name"], 0) + 1
            if mode == "status429":
                self.send_json(429, {"error": {"message": "Rate limit reached for requests", "type": "requests"}},
                               headers={"Retry-After": state.retry_after})
                return 429
            if mode == "status500":
                self.send_json(500, {"error": {"message": "The server had an error", "type": "server_error"}})
                return 500
            if mode == "garbage_body":
                self.send_json(200, None, raw=b"<html>Bad Gateway</html>")
                return 200
            rows = []
            for m in merchants:
                category, ticker, conf = answer_for(m["name"])
                rows.append({"i": m["i"], "category": category, "ticker": ticker, "confidence": conf})
            if mode == "partial":
                rows = rows[:len(rows) // 2]
            if mode == "bad_rows" and rows:
                rows[0]["confidence"] = 1.7
                if len(rows) > 1:
                    del rows[1]["category"]
                if len(rows) > 2:
                    rows[2]["i"] = 10_000
                if len(rows) > 3:
                    rows.append(dict(rows[3]))
            content = "Sure! Here are the mappings:" if mode == "malformed" else json.dumps({"mappings": rows})
            prompt_tokens = len(body) // 4 + 1
            completion_tokens = len(content) // 4 + 1
            self.send_json(200, {
                "id": f"chatcmpl-{state.requests}", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
            })
            return 200

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Quiet: clients that hang up or refuse the certificate are expected.
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    state = State(args.latency_ms)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    Server.address_family = family
    srv = Server((args.host, args.port), make_handler(state))
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # The handshake happens on the handler's thread at its first read,
        # not in accept(): one stalled client must not block the others.
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown, daemon=True).start())
    print(f"LISTENING {srv.server_address[1]}", flush=True)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
