"""Schedules: the scheduled inspections as ``bianque schedule list`` shows them, and one schedule's run history with
the cases its runs opened."""

from __future__ import annotations

import shlex

import streamlit as st

from agent.memory.schedules import MAX_RUNS_KEPT
from agent.scheduler.overview import ScheduleState
from agent.timeparse import to_rfc3339
from ui import backend
from ui.formatting import code, plain, run_rows, schedule_rows
from ui.widgets import loaded_or_stop, open_case_button, show_error

RUNS_SHOWN = 20  # as `bianque schedule history` without --limit
NO_SCHEDULES = (
    "No schedules yet. An inspection Skill with a `schedule` (a 5-field cron, UTC) gets one at the next "
    "`bianque schedule sync`, or when a scheduler starts (`bianque schedule start`, `bianque serve --with-scheduler`). "
    "Add one of your own with `bianque schedule add nightly --skill disk-inspection --cron '0 2 * * *' "
    "--service ranking` (docs/scheduling.md)."
)


def render_schedule(schedule: ScheduleState) -> None:
    """One schedule: why it has no job or whether a run holds it, then its runs and the cases they opened."""
    if schedule.problem:
        st.warning(plain(f"No job: {schedule.problem}"), icon=":material/warning:")
    if schedule.running:
        since = to_rfc3339(schedule.running_since) if schedule.running_since is not None else "-"
        st.info(plain(f"A run holds this schedule: started {since} by {schedule.running_by}."))
    limit = st.number_input("Runs shown, newest first", min_value=1, max_value=MAX_RUNS_KEPT, value=RUNS_SHOWN,
                            key="schedule_runs_limit",
                            help=f"The newest {MAX_RUNS_KEPT} runs of each schedule are kept.")
    try:
        runs = backend.schedule_runs(schedule.job_id, int(limit))
    except Exception as exc:
        show_error(f"Reading the runs of {schedule.job_id}", exc)
        return
    if not runs:
        st.info(plain("No recorded runs yet: the scheduler runs it at its next run, ")
                + code(f"bianque schedule run {shlex.quote(schedule.job_id)}") + " runs it now.")
        return
    st.dataframe(run_rows(runs), hide_index=True, width="stretch")
    cases = list(dict.fromkeys(run.case_id for run in runs if run.case_id))
    if cases:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        case_id = left.selectbox("Case of a run", cases, key="schedule_case")
        with right:
            open_case_button(case_id, key="schedule_open_case")


st.title("Schedules")
schedules = loaded_or_stop("Listing the schedules", backend.schedules)
if not schedules:
    st.info(NO_SCHEDULES)
    st.stop()
st.caption("Times in UTC. A schedule's job runs in `bianque schedule start` or `bianque serve --with-scheduler`.")
st.dataframe(schedule_rows(schedules), hide_index=True, width="stretch")
if any(s.overdue for s in schedules):
    st.warning("Overdue: no scheduler has run them. `bianque schedule start` or `bianque serve --with-scheduler` runs "
               "one (a run more than 30 minutes late is skipped, the next is on time).", icon=":material/schedule:")
by_id = {s.job_id: s for s in schedules}
chosen = st.selectbox("Schedule", list(by_id), key="schedules_shown")
st.subheader(plain(f"Runs of {chosen}"))
render_schedule(by_id[chosen])
