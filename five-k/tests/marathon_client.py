"""Drives 5K with marathon-python (Debian's python3-marathon), unchanged.

Run by tests/marathon_client.rs with 5K's URL as the only argument. Each
scenario uses the client's documented API, as a user of Marathon would,
and fails loudly: any JSON shape the client cannot parse raises here.
"""

import sys

from marathon import MarathonClient
from marathon.exceptions import ConflictError, NotFoundError
from marathon.models import MarathonApp
from marathon.models.events import (
    MarathonDeploymentInfo,
    MarathonDeploymentSuccess,
    MarathonStatusUpdateEvent,
)

from client_support import EventCollector, step, wait_for

URL = sys.argv[1]
client = MarathonClient(URL, timeout=10)
APP = "/shop/web"


def no_deployments():
    return client.list_deployments() == []


def running_tasks(app_id=APP):
    app = client.get_app(app_id, embed_tasks=True)
    return [t for t in app.tasks if t.state == "TASK_RUNNING"]


def settle(instances):
    """Waits until the deployments end with `instances` tasks running."""
    wait_for("deployments to end", no_deployments)
    tasks = running_tasks()
    assert len(tasks) == instances, f"{len(tasks)} running, wanted {instances}"
    return tasks


step("ping and get_info")
assert client.ping().strip() == b"pong", client.ping()
info = wait_for("a framework ID", lambda: (lambda i: i if i.framework_id else None)(client.get_info()))
assert info.name == "five-k", info.name
assert info.elected is True
assert client.get_leader()["leader"], client.get_leader()

step("the event stream attaches")
events = EventCollector(client)
events.start()
wait_for("the stream to attach", lambda: events.events or events.error)
assert events.error is None, events.error

step("create_app")
created = client.create_app(APP, MarathonApp(cmd="sleep 1000", cpus=0.1, mem=16, instances=2,
                                             labels={"tier": "web"}))
assert created.id == APP, created.id
assert created.deployments, "a new app is under deployment"
tasks = settle(2)
assert all(t.ports for t in tasks), [t.ports for t in tasks]
assert all(t.app_id == APP and t.slave_id and t.staged_at and t.started_at for t in tasks)
events.wait_for(MarathonStatusUpdateEvent)
events.wait_for(MarathonDeploymentInfo)
events.wait_for(MarathonDeploymentSuccess)

step("create_app of an existing id is a conflict")
try:
    client.create_app(APP, MarathonApp(cmd="sleep 1", instances=1))
    raise AssertionError("no ConflictError")
except ConflictError as error:
    assert "already exists" in str(error), error

step("get_app of an unknown app")
try:
    client.get_app("/nothing/here")
    raise AssertionError("no NotFoundError")
except NotFoundError as error:
    assert "does not exist" in str(error), error

step("list_apps with every embed")
apps = client.list_apps(embed_tasks=True, embed_counts=True, embed_deployments=True,
                        embed_last_task_failure=True, embed_failures=True, embed_task_stats=True)
assert [a.id for a in apps] == [APP], apps
assert apps[0].tasks_running == 2 and len(apps[0].tasks) == 2, apps[0]
assert client.list_apps(cmd="sleep 1000")[0].id == APP
assert client.list_apps(app_id="shop")[0].id == APP
assert client.list_apps(cmd="nothing like it") == []
assert [a.id for a in client.list_apps(label="tier==web")] == [APP]
assert client.list_apps(label="tier notin (web)") == []

step("scale_app")
result = client.scale_app(APP, instances=3)
assert result["deploymentId"] and result["version"], result
settle(3)
assert len(client.list_tasks(APP)) == 3
assert len(client.list_tasks()) == 3

step("kill_task with scale")
victim = running_tasks()[0].id
result = client.kill_task(APP, victim, scale=True)
assert result["deploymentId"], result
wait_for("the app to be scaled to 2", lambda: client.get_app(APP).instances == 2)
tasks = settle(2)
assert victim not in [t.id for t in tasks]

step("kill_given_tasks without scale: the app replaces the task")
victim = tasks[0].id
assert client.kill_given_tasks([victim], scale=False) is True
wait_for("a replacement", lambda: len(running_tasks()) == 2 and victim not in [t.id for t in running_tasks()])
assert client.get_app(APP).instances == 2

step("kill_tasks on a host without tasks kills nothing")
assert client.kill_tasks(APP, host="nowhere.example") == []

step("kill_task without scale returns the task")
killed = client.kill_task(APP, running_tasks()[0].id)
assert killed.app_id == APP, killed
wait_for("a replacement", lambda: len(running_tasks()) == 2)

step("update_app with a new command replaces every task")
before = {t.id for t in running_tasks()}
client.update_app(APP, MarathonApp(cmd="sleep 2000"))
tasks = wait_for("new tasks", lambda: (lambda ts: ts if len(ts) == 2 and not ({t.id for t in ts} & before) else None)(running_tasks()))
wait_for("deployments to end", no_deployments)
assert client.get_app(APP).cmd == "sleep 2000"

step("restart_app")
before = {t.id for t in running_tasks()}
result = client.restart_app(APP)
assert result["deploymentId"], result
wait_for("restarted tasks", lambda: (lambda ts: len(ts) == 2 and not ({t.id for t in ts} & before))(running_tasks()))

step("list_versions and get_version")
versions = client.list_versions(APP)
assert len(versions) >= 4, versions
first = client.get_version(APP, versions[-1])
assert first.cmd == "sleep 1000" and first.instances == 2, first

step("a change under deployment is a conflict unless forced")
client.scale_app(APP, instances=100)  # more than the cluster holds: it stays under deployment
deployments = wait_for("a deployment", client.list_deployments)
assert deployments[0].affected_apps == [APP], deployments[0].affected_apps
try:
    client.scale_app(APP, instances=3)
    raise AssertionError("no ConflictError")
except ConflictError as error:
    assert "locked" in str(error), error

step("list_queue shows the app waiting for launches")
queue = wait_for("a queued app", client.list_queue)
assert [item.app.id for item in queue] == [APP], queue
assert 0 < queue[0].count <= 98, queue[0].count
assert queue[0].delay.time_left_seconds == 0 and queue[0].delay.overdue is False
assert queue[0].since, queue[0]
assert isinstance(client.list_queue(embed_last_unused_offers=True)[0].last_unused_offers, list)
client.reset_delay(APP)

step("delete_deployment rolls back")
client.delete_deployment(deployments[0].id)
wait_for("the rollback", lambda: client.get_app(APP).instances == 2)
settle(2)

assert client.list_queue() == []
try:
    client.reset_delay(APP)
    raise AssertionError("no NotFoundError")
except NotFoundError as error:
    assert "not found in tasks queue" in str(error), error

step("delete_app")
client.delete_app(APP, force=True)
wait_for("deployments to end", no_deployments)
assert client.list_apps() == []
wait_for("no tasks", lambda: client.list_tasks() == [])
assert events.error is None, events.error
kinds = {type(e).__name__ for e in events.events}
print("events seen:", ", ".join(sorted(kinds)))
print("OK")
