"""What the marathon-python scenarios share (imported from their own
folder): a step line the Rust test prints on failure, polling until a
condition holds, and the event stream read in the background."""

import threading
import time


def step(text):
    print(f"--- {text}", flush=True)


def wait_for(what, condition, timeout=30):
    """Polls `condition` until it returns something true, and returns it."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class EventCollector(threading.Thread):
    """Reads `client`'s event stream in the background, as the client
    parses it: an event it cannot parse ends the stream with an error,
    which the next look raises."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client = client
        self.events = []
        self.error = None

    def run(self):
        try:
            for event in self.client.event_stream():
                self.events.append(event)
        except Exception as error:  # reported by the main thread
            self.error = error

    def of(self, kind):
        """The events of `kind` seen so far."""
        if self.error is not None:
            raise AssertionError(f"the event stream failed: {self.error!r}")
        return [e for e in list(self.events) if isinstance(e, kind)]

    def seen(self, kind):
        return bool(self.of(kind))

    def wait_for(self, kind):
        return wait_for(kind.__name__, lambda: self.seen(kind))
