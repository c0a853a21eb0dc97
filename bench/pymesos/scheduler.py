"""The peer: a minimal pymesos scheduler launching the benchmark's tasks.

The same work as step 01 and the protocol floor (mesos-bench's offer
cycle): fill each offer with tasks of --cpus and --mem running `sleep 3600`
until --tasks are launched, decline what is left, acknowledge every update
(pymesos' implicit acknowledgements). JSON over HTTP, as pymesos speaks it.
No logging beyond pymesos' own defaults (warnings).
"""

import argparse
import logging
import uuid

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

EPSILON = 1e-6


def scalar(offer, name):
    return sum(r.scalar.value for r in offer.resources if r.name == name)


class Launcher(Scheduler):
    def __init__(self, tasks, cpus, mem):
        self.left = tasks
        self.cpus = cpus
        self.mem = mem

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus, mem = scalar(offer, "cpus"), scalar(offer, "mem")
            tasks = []
            while self.left > 0 and cpus + EPSILON >= self.cpus and mem + EPSILON >= self.mem:
                task = Dict()
                task.task_id.value = "pymesos-" + str(uuid.uuid4())
                task.agent_id.value = offer.agent_id.value
                task.name = "pymesos"
                task.command.value = "sleep 3600"
                task.command.shell = True
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": self.cpus}),
                    dict(name="mem", type="SCALAR", scalar={"value": self.mem}),
                ]
                tasks.append(task)
                cpus -= self.cpus
                mem -= self.mem
                self.left -= 1
            filters = {"refuse_seconds": 30.0}
            if tasks:
                driver.launchTasks(offer.id, tasks, filters)
            else:
                driver.declineOffer(offer.id, filters)

    def statusUpdate(self, driver, update):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--master", required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--cpus", type=float, required=True)
    parser.add_argument("--mem", type=float, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    framework = Dict(user="root", name="pymesos-bench", hostname="localhost")
    driver = MesosSchedulerDriver(
        Launcher(args.tasks, args.cpus, args.mem), framework, args.master, use_addict=True
    )
    driver.run()


if __name__ == "__main__":
    main()
