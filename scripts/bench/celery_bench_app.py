"""The Celery app the benchmark runs for comparison: the same task names."""
import os
import time

from celery import Celery

url = os.environ["BENCH_URL"]
app = Celery("bench", broker=url, backend=url if os.environ.get("BENCH_RESULTS") == "1" else None)
app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json",
                task_ignore_result=os.environ.get("BENCH_RESULTS") != "1", worker_hijack_root_logger=False)


@app.task(name="celeriac.noop")
def noop():
    return None


# The latency probe (scripts/bench-latency): the wall clock as the task's
# first line runs, as celeriac's built-in reads it.
@app.task(name="celeriac.started_at")
def started_at(sent=None):
    return time.time()
