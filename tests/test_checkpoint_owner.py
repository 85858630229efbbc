"""Checkpoints name the process writing them; only a live process of this host counts as running one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from agent.graph.checkpoint import latest_checkpoint
from agent.graph.owner import checkpoint_owner, owner_alive, process_owner, thread_config

HOST = socket.gethostname()


def test_a_live_process_of_this_host_is_alive_and_a_finished_one_is_not():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert owner_alive(f"{HOST}:{child.pid}")
    finally:
        child.kill()
        child.wait()
    assert not owner_alive(f"{HOST}:{child.pid}")


def test_this_process_other_hosts_and_malformed_owners_do_not_count_as_alive():
    assert not owner_alive(process_owner())  # the caller itself: resuming its own thread is fine
    assert not owner_alive(f"another-{HOST}:{os.getppid()}")  # cannot be checked from here
    for bad in (None, "", "no-pid", f"{HOST}:", f"{HOST}:12ab"):
        assert not owner_alive(bad)


def test_the_owner_rides_on_every_checkpoint():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("step", lambda s: {"n": s["n"] + 1})
    graph.add_edge(START, "step")
    graph.add_edge("step", END)
    saver = InMemorySaver()
    graph.compile(checkpointer=saver).invoke({"n": 0}, thread_config("t1"))
    assert checkpoint_owner(latest_checkpoint(saver, "t1")) == process_owner()
    assert checkpoint_owner(latest_checkpoint(saver, "unknown")) is None
