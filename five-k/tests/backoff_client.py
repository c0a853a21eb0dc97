"""A crash-looping app seen through marathon-python (Debian's python3-marathon).

Run by tests/rolling.rs with 5K's URL as the only argument. An app whose
command exits at once must be relaunched less and less often: its delay
grows in `list_queue` (1 s, then 3 s, then 9 s with backoffFactor 3), and
`reset_delay` launches it again at once.
"""

import sys

from marathon import MarathonClient
from marathon.exceptions import NotFoundError
from marathon.models import MarathonApp

from client_support import step, wait_for

URL = sys.argv[1]
client = MarathonClient(URL, timeout=10)
APP = "/crash"


def delay_left():
    """The app's delay in whole seconds, or None if it is not queued."""
    for item in client.list_queue():
        if item.app.id == APP:
            assert item.delay.overdue is False, item.delay
            return item.delay.time_left_seconds
    return None


def last_failure():
    failure = client.get_app(APP).last_task_failure
    return failure.task_id if failure else None


step("a crash-looping app is delayed longer after each failure")
client.create_app(
    APP,
    MarathonApp(
        cmd="exit 1",
        cpus=0.01,
        mem=16,
        instances=1,
        backoff_seconds=1,
        backoff_factor=3,
        max_launch_delay_seconds=300,
    ),
)
seen = []


def grown():
    left = delay_left()
    if left is not None:
        seen.append(left)
    # Only the third delay (9 s) shows 5 or more: 1 s shows 0, 3 s at
    # most 2.
    return left is not None and left >= 5


wait_for("a delay of 9 s", grown)
first_long = next(i for i, left in enumerate(seen) if left >= 5)
assert any(1 <= left <= 2 for left in seen[:first_long]), seen
print(f"delays seen (s): {sorted(set(seen))}")

step("the app's page says why it waits")
import urllib.request
with urllib.request.urlopen(f"{URL}/ui/apps{APP}", timeout=10) as page:
    html = page.read().decode()
assert "its tasks keep failing, next launch in" in html, html

step("reset_delay launches it again at once")
before = last_failure()
assert before, "the app has failed"
client.reset_delay(APP)
left = delay_left()
assert left is None or left <= 1, left
# Without the reset the next launch would wait 8 s more.
wait_for("a new failure", lambda: last_failure() != before, timeout=6)

step("reset_delay of an app that does not wait is refused")
client.delete_app(APP, force=True)
wait_for("the app gone", lambda: not any(a.id == APP for a in client.list_apps()))
try:
    client.reset_delay(APP)
    raise AssertionError("reset_delay of a deleted app succeeded")
except NotFoundError as error:
    assert "Application /crash not found in tasks queue." in str(error), error
print("OK")
