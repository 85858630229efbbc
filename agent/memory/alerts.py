"""Alert dedup: group repeated and related alert notifications into incidents.

An alert is identified by its fingerprint (Alertmanager's, or any stable hash of its labels).
- ``new``: the first notification of a firing episode on a service with no open incident; an
  incident is opened and the caller should investigate it.
- ``repeat``: the same fingerprint again while it is still firing (Alertmanager re-notifies).
- ``duplicate``: a different alert on a service that already has an open incident; it joins it.
- ``resolved``: the alert stopped firing; the incident resolves when none of its alerts fires.
- ``stale``: a firing copy of an episode whose resolution is already recorded (Alertmanager re-delivers,
  an HA peer sends late, copies arrive out of order): nothing changes. An episode is told by its
  ``startsAt``, which Alertmanager keeps for one episode: a firing copy with the resolved episode's
  ``startsAt`` (or an older one) is stale, one with a newer ``startsAt`` is a re-fire. Without
  ``startsAt`` an episode cannot be told, and a firing copy after the resolution is a re-fire. A resolved
  copy of an older episode than the one recorded (it arrives late, while a newer episode fires) is stale too:
  it neither resolves the newer episode nor makes it look older. A firing copy of a newer episode while the
  recorded one still fires means that one ended unreported (no ``send_resolved``, a lost call): it is resolved,
  and the new episode is ``new`` (or ``duplicate``) like any re-fire; a firing copy of an older episode than the
  one firing is stale.
An open incident silent for longer than ``stale_after`` seconds no longer absorbs alerts.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from agent.events import ALERT_STATUSES
from agent.memory.errors import CaseNotFoundError, IncidentNotFoundError, InvalidInputError
from agent.memory.models import AlertRow, CaseRow, IncidentRow, new_id
from agent.memory.records import AlertKind, AlertObservation, AlertRecord, IncidentRecord
from agent.memory.store import Store, get_row

DEFAULT_STALE_AFTER_S = 6 * 3600.0
DEDUP_LOCK_SPACE = 0x62717565  # "bque": the advisory-lock key space of alert dedup (PostgreSQL)


def _incident_record(row: IncidentRow) -> IncidentRecord:
    return IncidentRecord.model_validate(row, from_attributes=True)


def _observation(
    kind: AlertKind, alert: AlertRow, incident: IncidentRow | None, incident_resolved: bool = False
) -> AlertObservation:
    return AlertObservation(
        kind=kind,
        fingerprint=alert.fingerprint,
        alertname=alert.alertname,
        service=alert.service,
        incident_id=incident.id if incident else None,
        case_id=incident.case_id if incident else None,
        count=alert.count,
        incident_resolved=incident_resolved,
        starts_at=alert.starts_at,
    )


def _is_live(incident: IncidentRow | None, ts: float, stale_after: float) -> bool:
    return incident is not None and incident.status == "open" and ts - incident.last_seen <= stale_after


def _touch(incident: IncidentRow, ts: float) -> None:
    incident.last_seen = max(incident.last_seen, ts)
    incident.alert_count += 1


def _open_incident_for(
    session: Session, service: str | None, ts: float, stale_after: float
) -> IncidentRow | None:
    """The live open incident of a service; stale open ones are closed on the way."""
    if not service:
        return None
    rows = session.scalars(
        select(IncidentRow)
        .where(IncidentRow.service == service, IncidentRow.status == "open")
        .order_by(IncidentRow.last_seen.desc())
        .with_for_update()
    ).all()
    live = None
    for row in rows:
        if live is None and _is_live(row, ts, stale_after):
            live = row
        elif row.last_seen < ts - stale_after:
            row.status = "resolved"
            row.resolved_at = row.last_seen
    return live


def _resolve(session: Session, alert: AlertRow, ts: float, starts_at: float | None) -> AlertObservation:
    alert.status = "resolved"
    alert.last_seen = max(alert.last_seen, ts)
    if starts_at is not None:  # a copy without startsAt resolves the episode recorded
        alert.starts_at = starts_at
    incident = alert.incident
    if incident is not None and incident.status == "open":
        session.flush()
        still_firing = session.scalar(
            select(AlertRow.id)
            .where(AlertRow.incident_id == incident.id, AlertRow.status == "firing")
            .limit(1)
        )
        if still_firing is None:
            incident.status = "resolved"
            incident.resolved_at = ts
            incident.last_seen = max(incident.last_seen, ts)
    # a resolved notification sent again (Alertmanager retries a call, an HA pair both send) finds it resolved
    return _observation(AlertKind.RESOLVED, alert, incident, incident is not None and incident.status == "resolved")


def _resolved_unseen(
    session: Session, fingerprint: str, alertname: str, service: str | None, ts: float, starts_at: float | None
) -> AlertObservation:
    """A resolution of an alert never seen firing: its episode is recorded (when ``startsAt`` names it) so
    that a firing copy of it arriving later is known to be stale."""
    if starts_at is None:
        return AlertObservation(
            kind=AlertKind.RESOLVED, fingerprint=fingerprint, alertname=alertname, service=service, count=0
        )
    alert = AlertRow(
        fingerprint=fingerprint, alertname=alertname, service=service, status="resolved",
        first_seen=ts, last_seen=ts, count=0, starts_at=starts_at,
    )
    session.add(alert)
    session.flush()
    return _observation(AlertKind.RESOLVED, alert, None)


def _versus_recorded(alert: AlertRow, starts_at: float | None) -> int | None:
    """How a notification's episode compares with the one recorded: -1 older, 0 the same, 1 newer; None when
    either ``startsAt`` is unknown."""
    if starts_at is None or alert.starts_at is None:
        return None
    return (starts_at > alert.starts_at) - (starts_at < alert.starts_at)


def _stale(alert: AlertRow) -> AlertObservation:
    """A copy of an episode already past: nothing changes."""
    incident = alert.incident
    return _observation(AlertKind.STALE, alert, incident, incident is not None and incident.status == "resolved")


def _fire(
    session: Session,
    alert: AlertRow | None,
    fingerprint: str,
    alertname: str,
    service: str | None,
    ts: float,
    stale_after: float,
    starts_at: float | None,
) -> AlertObservation:
    if alert is not None and alert.status == "firing" and _versus_recorded(alert, starts_at) == 1:
        _resolve(session, alert, ts, None)  # the recorded episode ended unreported (no send_resolved, a lost call)
    if alert is not None and alert.status == "firing":
        incident = alert.incident
        if _is_live(incident, ts, stale_after) and ts - alert.last_seen <= stale_after:
            assert incident is not None
            alert.count += 1
            alert.last_seen = max(alert.last_seen, ts)
            if starts_at is not None and alert.starts_at is None:
                alert.starts_at = starts_at
            _touch(incident, ts)
            return _observation(AlertKind.REPEAT, alert, incident)
    incident = _open_incident_for(session, service, ts, stale_after)
    if incident is not None:
        kind = AlertKind.DUPLICATE
        _touch(incident, ts)
    else:
        kind = AlertKind.NEW
        incident = IncidentRow(
            id=new_id(), service=service, status="open", first_seen=ts, last_seen=ts, alert_count=1
        )
        session.add(incident)
    if alert is None:
        alert = AlertRow(fingerprint=fingerprint)
        session.add(alert)
    alert.alertname = alertname
    alert.service = service
    alert.status = "firing"
    alert.first_seen = ts
    alert.last_seen = ts
    alert.count = 1
    alert.incident = incident
    alert.starts_at = starts_at
    session.flush()
    return _observation(kind, alert, incident)


def check_observation(fingerprint: str, status: str, stale_after: float) -> None:
    """InvalidInputError naming the argument that cannot be observed."""
    if not fingerprint:
        raise InvalidInputError("fingerprint: empty")
    if status not in ALERT_STATUSES:
        raise InvalidInputError(f"status: must be firing or resolved, got {status!r}")
    if stale_after <= 0:
        raise InvalidInputError(f"stale_after: must be > 0 seconds, got {stale_after}")


def _serialise(session: Session, key: str) -> None:
    """On PostgreSQL, hold a transaction lock on ``key`` (a service or a fingerprint).

    Two replicas seeing the first alerts of one service at once would otherwise both find no open
    incident (a row lock cannot lock a row that does not exist yet) and open two.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"), {"space": DEDUP_LOCK_SPACE, "key": key}
        )


def observe(
    session: Session,
    fingerprint: str,
    alertname: str,
    service: str | None,
    status: str,
    ts: float,
    stale_after: float = DEFAULT_STALE_AFTER_S,
    starts_at: float | None = None,
) -> AlertObservation:
    """Classify and record one alert notification inside the caller's write transaction.

    ``starts_at`` is the alert's ``startsAt``: it names the episode (see the module docstring).
    """
    _serialise(session, f"service:{service}" if service else f"alert:{fingerprint}")
    alert = session.scalars(select(AlertRow).where(AlertRow.fingerprint == fingerprint).with_for_update()).first()
    if alert is None:
        if status == "resolved":
            return _resolved_unseen(session, fingerprint, alertname, service, ts, starts_at)
        return _fire(session, None, fingerprint, alertname, service, ts, stale_after, starts_at)
    order = _versus_recorded(alert, starts_at)
    if order == -1 or (order == 0 and status == "firing" and alert.status == "resolved"):
        return _stale(alert)  # a copy of a past episode: older than the one recorded, or the one resolved
    if status == "resolved":
        return _resolve(session, alert, ts, starts_at)
    return _fire(session, alert, fingerprint, alertname, service, ts, stale_after, starts_at)


class AlertStore(Store):
    """Alert and incident dedup state."""

    def observe_alert(
        self,
        fingerprint: str,
        alertname: str,
        service: str | None,
        status: str,
        ts: float,
        *,
        stale_after: float = DEFAULT_STALE_AFTER_S,
        starts_at: float | None = None,
    ) -> AlertObservation:
        """Classify one alert notification (new / repeat / duplicate / resolved / stale) and record it;
        ``starts_at`` is its ``startsAt``, which names the firing episode."""
        check_observation(fingerprint, status, stale_after)
        return self._write_retrying(
            lambda session: observe(session, fingerprint, alertname, service, status, ts, stale_after, starts_at)
        )

    def link_incident_case(self, incident_id: str, case_id: str) -> IncidentRecord:
        """Record which case investigates an incident (later duplicates point at it)."""
        with self._write() as session:
            incident = get_row(session, IncidentRow, incident_id, IncidentNotFoundError(incident_id), lock=True)
            get_row(session, CaseRow, case_id, CaseNotFoundError(case_id))
            incident.case_id = case_id
            session.flush()
            return _incident_record(incident)

    def get_incident(self, incident_id: str) -> IncidentRecord:
        """One incident, or IncidentNotFoundError."""
        with self._read() as session:
            incident = get_row(session, IncidentRow, incident_id, IncidentNotFoundError(incident_id))
            return _incident_record(incident)

    def alerts_begun_between(self, start: float, end: float) -> list[AlertRecord]:
        """Alerts whose latest firing episode began in ``[start, end)`` (its ``startsAt``, else its first
        notification), earliest first."""
        began = func.coalesce(AlertRow.starts_at, AlertRow.first_seen)
        with self._read() as session:
            rows = session.scalars(select(AlertRow).where(began >= start, began < end).order_by(began)).all()
            return [AlertRecord.model_validate(row, from_attributes=True) for row in rows]

    def get_alert(self, fingerprint: str) -> AlertRecord | None:
        """One alert's dedup state, or None when it was never notified."""
        with self._read() as session:
            row = session.scalars(select(AlertRow).where(AlertRow.fingerprint == fingerprint)).first()
            return AlertRecord.model_validate(row, from_attributes=True) if row is not None else None

    def open_incidents(self, service: str | None = None) -> list[IncidentRecord]:
        """Incidents still open (optionally one service's), most recently active first."""
        query = select(IncidentRow).where(IncidentRow.status == "open")
        if service is not None:
            query = query.where(IncidentRow.service == service)
        with self._read() as session:
            rows = session.scalars(query.order_by(IncidentRow.last_seen.desc())).all()
            return [_incident_record(row) for row in rows]
