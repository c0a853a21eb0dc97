"""marathon-python drives a 5K guarded by --web-credential.

Run by tests/web.rs with 5K's URL, the principal and the secret. The
client sends HTTP basic authentication when given `username` and
`password`, on every call and on the event stream; without them, or with
a wrong secret, 5K answers 401 and the client raises.
"""

import sys
import threading

from marathon import MarathonClient
from marathon.exceptions import MarathonHttpError
from marathon.models import MarathonApp

from client_support import step, wait_for

URL, PRINCIPAL, SECRET = sys.argv[1:4]
APP = "/guarded"


def refused(client):
    try:
        client.list_apps()
    except MarathonHttpError as error:
        return error.status_code
    raise AssertionError("5K answered without the credential")


step("without the credential, or with a wrong secret: 401")
assert refused(MarathonClient(URL, timeout=10)) == 401
assert refused(MarathonClient(URL, username=PRINCIPAL, password=SECRET + "x", timeout=10)) == 401

client = MarathonClient(URL, username=PRINCIPAL, password=SECRET, timeout=10)

step("get_info with the credential")
assert client.get_info().name == "five-k"

step("the event stream with the credential")
events = []
errors = []


def read_events():
    try:
        for event in client.event_stream():
            events.append(event)
    except Exception as error:  # reported below
        errors.append(error)


threading.Thread(target=read_events, daemon=True).start()
wait_for("the stream to attach", lambda: events or errors)
assert not errors, errors

step("create_app, list_apps, scale_app, delete_app with the credential")
client.create_app(APP, MarathonApp(cmd="sleep 1000", cpus=0.1, mem=16, instances=1))
assert [app.id for app in client.list_apps()] == [APP]
wait_for("a running task", lambda: [t for t in client.list_tasks(APP) if t.state == "TASK_RUNNING"])
wait_for("the deployment to end", lambda: client.list_deployments() == [])
client.scale_app(APP, instances=2)
assert client.get_app(APP).instances == 2
wait_for("the app's events", lambda: any(e.event_type == "api_post_event" for e in events))
assert not errors, errors
client.delete_app(APP, force=True)
wait_for("the app to go", lambda: client.list_apps() == [])

print("OK")
