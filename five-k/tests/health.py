"""5K's own HTTP health checks, end to end, through marathon-python.

Run by tests/health.rs with 5K's URL and a scratch directory. The app's
tasks serve their own directory with Python's http.server; the check asks
for the file `ok` in it. Removing one task's `ok` makes that task fail its
check (404): 5K must find it unhealthy, start a replacement, and kill it
only once the replacement serves.
"""

import os
import sys

from marathon import MarathonClient
from marathon.models import MarathonApp, MarathonHealthCheck
from marathon.models.events import (
    MarathonFailedHealthCheckEvent,
    MarathonHealthStatusChangedEvent,
    MarathonUnhealthyInstanceKillEvent,
)

from client_support import EventCollector, step, wait_for

URL, SCRATCH = sys.argv[1], sys.argv[2]
client = MarathonClient(URL, timeout=10)
APP = "/health/web"
INSTANCES = 3


def alive(event):
    # marathon-python leaves a false attribute unset.
    return getattr(event, "alive", False)


step("the event stream attaches")
events = EventCollector(client)
events.start()
wait_for("the stream to attach", lambda: events.events or events.error)

step("an app whose tasks serve HTTP, checked by 5K")
cmd = (
    f"mkdir -p {SCRATCH}/$MESOS_TASK_ID && cd {SCRATCH}/$MESOS_TASK_ID && touch ok && "
    "exec /usr/bin/python3 -m http.server $PORT0 --bind 127.0.0.1"
)
check = MarathonHealthCheck(
    protocol="HTTP", path="/ok", port_index=0, grace_period_seconds=30,
    interval_seconds=2, timeout_seconds=1, max_consecutive_failures=2,
)
check.delay_seconds = 0
client.create_app(APP, MarathonApp(cmd=cmd, cpus=0.1, mem=32, instances=INSTANCES,
                                   health_checks=[check]))

step("tasksHealthy reaches the instance count")
app = wait_for("every task healthy",
               lambda: (lambda a: a if a.tasks_healthy == INSTANCES else None)(
                   client.get_app(APP, embed_tasks=True)))
assert app.tasks_unhealthy == 0, app.tasks_unhealthy
for task in app.tasks:
    [result] = task.health_check_results
    assert result.alive is True, vars(result)
    assert result.first_success and result.last_success, vars(result)
    assert result.consecutive_failures == 0, vars(result)
    assert result.instance_id == task.id, vars(result)
originals = {task.id for task in app.tasks}
assert len(originals) == INSTANCES, originals

step("one task stops passing its check")
victim = sorted(originals)[0]
os.remove(os.path.join(SCRATCH, victim, "ok"))
wait_for("the task found unhealthy",
         lambda: client.get_app(APP).tasks_unhealthy == 1)
failures = wait_for("a failed_health_check_event",
                    lambda: [e for e in events.of(MarathonFailedHealthCheckEvent)
                             if e.task_id == victim])
assert failures[0].app_id == APP and failures[0].health_check.path == "/ok", vars(failures[0])

step("it is replaced first, then killed")
[kill] = wait_for("an unhealthy_instance_kill_event",
                  lambda: [e for e in events.of(MarathonUnhealthyInstanceKillEvent)])
assert kill.task_id == victim and kill.app_id == APP, vars(kill)
assert "404" in kill.reason, kill.reason
# Whatever came before the kill: a new task found alive.
before_kill = events.events[:events.events.index(kill)]
served = [e for e in before_kill if isinstance(e, MarathonHealthStatusChangedEvent)
          and alive(e) and e.task_id not in originals]
assert served, "killed before a replacement served"
went_down = [e for e in before_kill if isinstance(e, MarathonHealthStatusChangedEvent)
             and not alive(e) and e.task_id == victim]
assert went_down, "no health_status_changed_event for the failing task"

step("the app is back to its instances, all healthy")
def healed():
    app = client.get_app(APP, embed_tasks=True)
    ids = {t.id for t in app.tasks}
    return app if (victim not in ids and len(ids) == INSTANCES
                   and app.tasks_healthy == INSTANCES) else None
wait_for("the app healed", healed)

client.delete_app(APP, force=True)
print("OK")
