"""A Celery 5.2 app whose tasks carry the same names as celeriac's built-ins.

Used as the Python worker (`/usr/bin/python3 -m celery -A celery_app worker`,
with this folder on PYTHONPATH) and as the client in the interop tests.
Configured from the environment, read at import:

  CELERIAC_INTEROP_BROKER              broker URL (default redis://127.0.0.1:6379/0)
  CELERIAC_INTEROP_BACKEND             result backend URL (default: the broker URL)
  CELERIAC_INTEROP_VISIBILITY_TIMEOUT  kombu's visibility_timeout in seconds (default 3600)
  CELERIAC_INTEROP_ACKS_LATE           "1" sets task_acks_late=True
  CELERIAC_INTEROP_PREFETCH            worker_prefetch_multiplier (default: Celery's, 4)
"""

import os
import time

from celery import Celery

broker_url = os.environ.get("CELERIAC_INTEROP_BROKER", "redis://127.0.0.1:6379/0")
backend_url = os.environ.get("CELERIAC_INTEROP_BACKEND", broker_url)

app = Celery("celery_app", broker=broker_url, backend=backend_url)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    timezone="UTC",
    enable_utc=True,
    broker_transport_options={
        "visibility_timeout": int(os.environ.get("CELERIAC_INTEROP_VISIBILITY_TIMEOUT", "3600")),
    },
    task_acks_late=os.environ.get("CELERIAC_INTEROP_ACKS_LATE") == "1",
)
if os.environ.get("CELERIAC_INTEROP_PREFETCH"):
    app.conf.worker_prefetch_multiplier = int(os.environ["CELERIAC_INTEROP_PREFETCH"])


@app.task(name="celeriac.noop")
def noop():
    return None


@app.task(name="celeriac.add")
def add(x, y):
    return x + y


@app.task(name="celeriac.echo")
def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


@app.task(name="celeriac.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return None


@app.task(name="celeriac.fail")
def fail(message="failed on purpose"):
    raise RuntimeError(message)


@app.task(name="celeriac.started_at")
def started_at(sent=None):
    return time.time()
