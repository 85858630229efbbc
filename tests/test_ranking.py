"""Root-cause ranking: blame from slow outbound calls; the alerted service ranks only by its evidence."""

from __future__ import annotations

import pytest

from agent.evidence import ChangeNote
from agent.findings import Finding, FindingKind, number_findings
from agent.reasoners.attribution import attributed_fault, fault_for
from agent.reasoners.blame import outgoing_slowness
from agent.reasoners.ranking import EARLIEST_BONUS, rank_services
from agent.reasoners.service_evidence import (
    LESS_WORK_WEIGHT,
    SIGNIFICANT,
    ServiceEvidence,
    activity,
    in_rank_order,
    less_work,
    passed_on,
    weight,
)

T0 = 1_700_000_000.0
CLIENT = "pod_client_latency_p95_seconds"  # latency of the calls a service makes
SERVER = "pod_server_latency_p95_seconds"
# frontend and checkout both call cart; only checkout calls payment and email.
SHOP = {
    "frontend": ["cart", "checkout"],
    "checkout": ["cart", "payment", "email"],
    "cart": [], "payment": [], "email": [],
}


def _finding(service: str, metric: str, score: float, active_z: float = 5.0) -> Finding:
    return Finding(kind=FindingKind.ANOMALY, subject=service, service=service, metric=metric, signal="latency",
                   window_start=T0 - 3600, window_end=T0, onset=T0 - 120, score=score, direction="up",
                   summary=f"{service} {metric}", numbers={"active_z": active_z})


def _order(findings: list[Finding], topology=SHOP, targets=("frontend",)) -> list[str]:
    ranked = rank_services(number_findings(findings), [], topology, list(targets))
    return [e.service for e in ranked if e.score > 0]


def test_slow_calls_blame_the_callees_only_the_slow_caller_uses():
    order = _order([_finding("checkout", CLIENT, 0.8), _finding("frontend", CLIENT, 0.05)])
    assert set(order[:2]) == {"payment", "email"}, order
    assert order.index("cart") > 1  # frontend calls cart too and its calls are fine


def test_a_callee_every_slow_caller_shares_explains_the_most():
    order = _order([_finding("checkout", CLIENT, 0.8), _finding("frontend", CLIENT, 0.8)])
    assert order[0] == "cart", order
    assert order.index("cart") < order.index("payment")


def test_a_callee_whose_own_calls_slowed_gets_less_of_the_blame():
    topology = {"gateway": ["mid", "other"], "mid": ["leaf"], "other": [], "leaf": []}
    findings = number_findings([_finding("gateway", CLIENT, 0.7), _finding("mid", CLIENT, 0.7)])
    ranked = {e.service: e for e in rank_services(findings, [], topology, ["gateway"])}
    blame = {s: ranked[s].score - ranked[s].strength for s in ("mid", "other")}
    assert blame["other"] > blame["mid"] > 0, blame


def test_recovered_slow_calls_count_for_less():
    live = ServiceEvidence("checkout", [_finding("checkout", CLIENT, 0.8)])
    past = ServiceEvidence("checkout", [_finding("checkout", CLIENT, 0.8, active_z=0.5)])
    assert 0 < outgoing_slowness(past) < outgoing_slowness(live)


def test_blamed_callee_without_findings_cites_the_slow_call():
    findings = number_findings([_finding("checkout", CLIENT, 0.8)])
    ranked = rank_services(findings, [], SHOP, ["frontend"])
    payment = next(e for e in ranked if e.service == "payment")
    assert not payment.findings and [f.id for f in payment.blamed_by] == [findings[0].id]
    assert any("checkout" in note for note in payment.notes)


def _ranked(findings: list[Finding], topology=SHOP) -> dict[str, ServiceEvidence]:
    return {e.service: e for e in rank_services(number_findings(findings), [], topology, ["frontend"])}


def test_a_callee_with_no_finding_of_its_own_takes_the_fault_its_callers_calls_name():
    """cart shows nothing itself: both callers' calls to it slowing make it a slow dependency (a network delay
    leaves the delayed service's own metrics flat); their calls failing, an error fault."""
    slow = _ranked([_finding("checkout", CLIENT, 0.8), _finding("frontend", CLIENT, 0.8)])
    assert not slow["cart"].findings and fault_for(slow["cart"]) == "slow_dependency"
    failing = _ranked([_finding(s, "pod_client_error_ratio", 0.8) for s in ("checkout", "frontend")])
    assert fault_for(failing["cart"]) == "error_fault"


def test_a_callee_keeps_unknown_when_the_blame_names_no_fault():
    """A caller's calls out sped up (a fall of latency is no fault), and a caller blamed by its callees' fall in
    work (it stopped sending it, not why): nothing names a kind."""
    faster = _ranked([_finding(s, CLIENT, 0.8).model_copy(update={"direction": "down"})
                      for s in ("checkout", "frontend")])
    assert faster["cart"].blamed_by and fault_for(faster["cart"]) == "unknown"
    quiet = _ranked([_fell("payment", 0.8), _fell("email", 0.75)])
    assert quiet["checkout"].blamed_by and fault_for(quiet["checkout"]) == "unknown"


def test_a_callee_whose_own_findings_name_no_fault_takes_the_one_its_callers_calls_name():
    """cart's own Finding is of no fault family (a syscall count): it names nothing, so the callers' slower calls
    to it name its kind, and say whose they are."""
    ranked = _ranked([_finding("checkout", CLIENT, 0.8), _finding("frontend", CLIENT, 0.8),
                      _finding("cart", "syscall_read_total", 0.6)])
    assert ranked["cart"].findings and fault_for(ranked["cart"]) == "slow_dependency"
    assert attributed_fault(ranked["cart"]) == ("slow_dependency", ["checkout", "frontend"])
    assert attributed_fault(_ranked([_finding("cart", "syscall_read_total", 0.6)])["cart"]) == ("unknown", [])


def test_a_service_with_findings_of_its_own_is_named_from_them_not_from_its_callers():
    ranked = _ranked([_finding("checkout", CLIENT, 0.8), _finding("frontend", CLIENT, 0.8),
                      _finding("cart", "container_memory_usage_bytes", 0.6)])
    assert ranked["cart"].blamed_by and fault_for(ranked["cart"]) == "memory_leak"


def test_the_alerted_service_gets_no_place_without_evidence():
    weak = SIGNIFICANT * 0.8
    findings = [_finding(s, SERVER, weak - i * 0.01) for i, s in enumerate(["cart", "payment", "email", "checkout"])]
    order = _order(findings)
    assert "frontend" not in order, order  # honest scoring: only evidence ranks a service
    assert order[:2] == ["cart", "payment"]


def test_a_service_passing_on_a_dependency_delay_is_a_victim():
    # checkout's own latency rose, but its calls out slowed as much: the delay comes from below
    findings = [_finding("checkout", SERVER, 0.8), _finding("checkout", CLIENT, 0.85)]
    ranked = rank_services(number_findings(findings), [], SHOP, ["frontend"])
    checkout = next(e for e in ranked if e.service == "checkout")
    assert any("passes a dependency's delay on" in n for n in checkout.notes)
    assert checkout.score < 0.8


def _traces_diverge(service: str, score: float = 0.85) -> Finding:
    return Finding(kind=FindingKind.TRACE_DIVERGENCE, subject=service, service=service, signal="trace_logs",
                   window_start=T0 - 600, window_end=T0, onset=T0 - 100, score=score, direction="up",
                   summary=f"{service}: 17 of 19 traces through it left the reference's paths")


def test_a_service_whose_traces_break_there_is_no_victim_of_a_dependency_that_moved_first():
    # cart's bytes moved first; checkout's requests leave their usual paths at checkout itself: the traces say
    # where the break is, the onset order of a dependency's metric does not make checkout a victim
    findings = [_finding("cart", "network_transmit_bytes", 0.8), _traces_diverge("checkout")]
    findings[0] = findings[0].model_copy(update={"onset": T0 - 300})
    ranked = {e.service: e for e in rank_services(number_findings(findings), [], SHOP, ["frontend"])}
    assert not any("likely a victim" in n for n in ranked["checkout"].notes), ranked["checkout"].notes
    assert ranked["checkout"].score > ranked["cart"].score
    without_traces = [findings[0], _finding("checkout", SERVER, 0.85)]  # the same strength from a metric alone
    checkout = next(e for e in rank_services(number_findings(without_traces), [], SHOP, ["frontend"])
                    if e.service == "checkout")
    assert any("likely a victim" in n for n in checkout.notes), checkout.notes


def test_a_service_whose_traces_break_there_does_not_pass_a_delay_on():
    # checkout's own calls out slowed as much as it did, but requests leave their paths at checkout itself
    findings = [_finding("checkout", SERVER, 0.8), _finding("checkout", CLIENT, 0.85), _traces_diverge("checkout")]
    checkout = next(e for e in rank_services(number_findings(findings), [], SHOP, ["frontend"])
                    if e.service == "checkout")
    assert not any("passes a dependency's delay on" in n for n in checkout.notes), checkout.notes
    assert checkout.score >= 0.85


def test_a_service_that_calls_nothing_does_not_pass_a_delay_on():
    # cart calls no one: its slower calls out (say, its CPU starved) are its own trouble, not a victim's sign
    findings = [_finding("cart", SERVER, 0.8), _finding("cart", CLIENT, 0.85)]
    cart = next(e for e in rank_services(number_findings(findings), [], SHOP, ["frontend"]) if e.service == "cart")
    assert not any("passes a dependency's delay on" in n for n in cart.notes)
    assert cart.score >= 0.8


def test_a_leaf_callee_with_slow_calls_of_its_own_keeps_its_blame():
    # frontend's calls slowed; cart (a leaf) and checkout both slowed their own calls out. Checkout has
    # callees, so it may be passing a delay on; cart has none, so the blame stays with it.
    findings = [_finding("frontend", CLIENT, 0.9), _finding("cart", CLIENT, 0.9), _finding("checkout", CLIENT, 0.9)]
    ranked = {e.service: e for e in rank_services(number_findings(findings), [], SHOP, ["frontend"])}
    gained = {s: ranked[s].score - ranked[s].strength for s in ("cart", "checkout")}
    assert gained["cart"] > 0.1 and gained["cart"] > 5 * gained["checkout"], gained


def test_alerted_service_is_not_promoted_over_clear_evidence():
    findings = [_finding("cart", SERVER, 0.9), _finding("payment", SERVER, 0.8), _finding("email", SERVER, 0.7)]
    assert "frontend" not in _order(findings)[:3]


def test_alerted_service_is_not_promoted_when_calls_clearly_slowed():
    findings = [_finding("checkout", CLIENT, 0.8), *(_finding(s, SERVER, 0.2) for s in ("cart", "payment", "email"))]
    assert "frontend" not in _order(findings)[:3]


def test_an_earlier_episodes_tail_counts_as_recovered():
    # 3 sigmas off a baseline whose alarm level was 10: above RECOVERED_Z, yet back within half the alarm
    # level, where the onset detector itself ends an excursion's run: a past episode, not this alert's cause
    tail = _finding("cart", SERVER, 0.9, active_z=3.0).model_copy(
        update={"numbers": {"active_z": 3.0, "alarm_z": 10.0}})
    live = _finding("checkout", SERVER, 0.8, active_z=6.0).model_copy(
        update={"numbers": {"active_z": 6.0, "alarm_z": 10.0}})
    assert activity(tail) < 1.0 == activity(live)
    assert _order([tail, live])[0] == "checkout"


def test_being_first_says_less_when_many_were_first():
    """Unrelated services (no calls between them) each deviating: the first alone gets the earliest bonus
    whole; several deviating at the same first moment share it."""
    def bonus(first: int) -> float:
        findings = [_finding(s, "cpu_usage_ratio", 0.6).model_copy(update={"onset": T0 - (600 if i < first else 60)})
                    for i, s in enumerate(("a", "b", "c", "d"))]
        ranked = {e.service: e for e in rank_services(number_findings(findings), [], {}, [])}
        return ranked["a"].score - ranked["a"].strength

    assert bonus(1) == pytest.approx(EARLIEST_BONUS)
    assert bonus(4) == pytest.approx(EARLIEST_BONUS / 4)


def test_with_a_call_graph_being_first_apart_from_the_others_calls_earns_nothing():
    """email deviated minutes before cart, but neither calls the other: with the call graph, onset order counts
    only along its calls (victims, callers explained), so the clearer deviation ranks first; without it, being
    first is the only timing there is and earns the bonus."""
    early = _finding("email", SERVER, 0.6).model_copy(update={"onset": T0 - 600})
    late = _finding("cart", SERVER, 0.65).model_copy(update={"onset": T0 - 60})
    assert _order([early, late])[0] == "cart"
    assert _order([early, late], topology={})[0] == "email"


def _fell(service: str, score: float, metric: str = "syscall_read") -> Finding:
    """A fall of a work metric (its name says no bad direction): less work done."""
    return _finding(service, metric, score).model_copy(update={"direction": "down"})


def test_callees_that_stopped_working_implicate_the_caller_that_stopped_calling():
    ranked = rank_services(number_findings([_fell("payment", 0.8), _fell("email", 0.75)]), [], SHOP, ["frontend"])
    assert ranked[0].service == "checkout", [(e.service, e.score) for e in ranked]
    assert any("did less work" in note and "['email', 'payment']" in note for note in ranked[0].notes)
    assert {e.service for e in ranked if e.notes and "did less work" in " ".join(e.notes)} == {"checkout"}


@pytest.mark.parametrize("metric", ["syscall_read", "requests_per_second", "pod_workload_ops", "qps"])
def test_a_fall_of_work_or_request_rate_counts_as_less_work(metric):
    """Requests falling is the traffic family's good direction: the service was sent less, a victim's sign."""
    assert less_work(_fell("cart", 0.8, metric))
    assert weight(_fell("cart", 0.8, metric)) == pytest.approx(0.8 * LESS_WORK_WEIGHT)


@pytest.mark.parametrize("metric", ["success_rate", "cache_hit_ratio", "memory_rss_bytes"])
def test_a_fall_that_names_a_fault_or_a_resource_is_not_less_work(metric):
    assert not less_work(_fell("cart", 0.8, metric))


def test_weak_falls_blame_no_caller():
    ranked = rank_services(number_findings([_fell("payment", SIGNIFICANT - 0.1)]), [], SHOP, ["frontend"])
    assert not any("did less work" in " ".join(e.notes) for e in ranked)


def _load_origin_at_store(findings: list[Finding], topology: dict[str, list[str]]) -> bool:
    """Whether the ranking takes ``store`` (alert on ``ranking``) for the place extra load entered."""
    ranked = rank_services(number_findings(findings), [], topology, ["ranking"])
    return any("incoming load" in n for n in next(e.notes for e in ranked if e.service == "store"))


def test_load_falling_through_from_a_failing_sibling_is_not_load_that_came_in():
    """ranking calls cache and store; when the cache's hit ratio falls first, the store's extra requests are
    the cache's misses falling through, not incoming load; with no sibling failing, a lone rise is."""
    topology = {"ranking": ["cache", "store"], "cache": [], "store": []}
    rise = _finding("store", "requests_per_second", 0.9).model_copy(update={"onset": T0 - 240})
    busy = _finding("store", "cpu_usage_ratio", 0.8).model_copy(update={"onset": T0 - 180})
    misses = _finding("cache", "cache_hit_ratio", 0.9).model_copy(update={"direction": "down", "onset": T0 - 300})
    assert not _load_origin_at_store([rise, busy, misses], topology)
    assert _load_origin_at_store([rise, busy], topology)
    later = misses.model_copy(update={"onset": T0 + 300})  # the cache failed well after the load came
    assert _load_origin_at_store([rise, busy, later], topology)


def test_load_that_rose_elsewhere_first_did_not_come_in_here():
    """store's requests rose and its CPU with them, but the edge's requests had risen two minutes before: a call
    graph read off traces or log lines that misses the edge's calls to store cannot say the load came from above,
    the times can. A rise elsewhere after store's (or within the onset tolerance) takes nothing from it, nor does an
    earlier one below it in the call graph (the series of what it calls may show its load first)."""
    topology = {"ranking": ["store"], "store": ["disk"], "disk": [], "edge": []}
    rise = _finding("store", "requests_per_second", 0.9).model_copy(update={"onset": T0 - 240})
    busy = _finding("store", "cpu_usage_ratio", 0.8).model_copy(update={"onset": T0 - 180})
    edge = _finding("edge", "requests_per_second", 0.9).model_copy(update={"onset": T0 - 360})
    assert _load_origin_at_store([rise, busy], topology)
    assert not _load_origin_at_store([rise, busy, edge], topology)
    assert _load_origin_at_store([rise, busy, edge.model_copy(update={"onset": T0 - 180})], topology)
    assert _load_origin_at_store([rise, busy, edge.model_copy(update={"service": "disk", "subject": "disk"})], topology)


def test_a_load_rise_that_saturated_nothing_is_not_a_load_origin():
    """More requests at a service whose own resources held and whose callees stayed quiet explain nothing;
    nor does a callee that was already deviating before the load came, or one that started minutes after it
    (traffic above capacity slows what it reaches at once: the load was absorbed, something else changed)."""
    topology = {"ranking": ["store"], "store": ["disk"], "disk": []}
    rise = _finding("store", "requests_per_second", 0.9).model_copy(update={"onset": T0 - 240})
    assert not _load_origin_at_store([rise], topology)
    slow_disk = _finding("disk", "io_latency_seconds", 0.8).model_copy(update={"onset": T0 - 180})
    assert _load_origin_at_store([rise, slow_disk], topology)
    already_slow = slow_disk.model_copy(update={"onset": T0 - 900})
    assert not _load_origin_at_store([rise, already_slow], topology)
    slow_later = slow_disk.model_copy(update={"onset": T0 + 120})  # six minutes after the load rose
    assert not _load_origin_at_store([rise, slow_later], topology)
    slow_store = _finding("store", "p99_latency_seconds", 0.8).model_copy(update={"onset": T0 - 1200})
    slow_before = slow_disk.model_copy(update={"onset": T0 - 900})  # after the store's own early trouble, yet
    assert not _load_origin_at_store([rise, slow_store, slow_before], topology)  # ten minutes before the load
    busy = _finding("store", "memory_usage_bytes", 0.8).model_copy(update={"onset": T0 - 180})
    assert _load_origin_at_store([rise, busy], topology)
    busy_later = busy.model_copy(update={"onset": T0 + 1200})  # its own memory, 24 minutes after the load
    assert not _load_origin_at_store([rise, busy_later], topology)


def test_a_service_whose_requests_rose_with_its_callers_carries_load_from_above():
    """A surge enters at the gateway and reaches the store: the store's requests, CPU and latency rise with the
    gateway's, and a release landed on the store just before. The store is carrying the load from above (its
    callers' anomalies are not its doing), so the gateway, where the load entered, ranks first."""
    topology = {"gateway": ["store"], "store": []}
    surge = [_finding("gateway", "requests_per_second", 0.9).model_copy(update={"onset": T0 - 300}),
             _finding("gateway", SERVER, 0.8).model_copy(update={"onset": T0 - 240})]
    carried = [_finding("store", "requests_per_second", 0.9).model_copy(update={"onset": T0 - 300}),
               _finding("store", "cpu_usage_ratio", 0.95).model_copy(update={"onset": T0 - 300}),
               _finding("store", SERVER, 0.95).model_copy(update={"onset": T0 - 300})]
    release = ChangeNote(service="store", ts=T0 - 420, id="deploy-1", type="deploy", description="store v2")
    ranked = rank_services(number_findings(surge + carried), [release], topology, ["gateway"])
    assert [e.service for e in ranked][:2] == ["gateway", "store"]
    store = next(e for e in ranked if e.service == "store")
    assert "its requests rose with its callers': the load came from above" in store.notes
    assert not any("explains anomalies in callers" in n for n in store.notes)


def _cpu(service: str, level: float, ceiling: float | None = 100.0, score: float = 0.8,
         metric: str = "cpu_usage_rate_percent") -> Finding:
    """A CPU rise at ``service`` whose level in the minutes up to the alert was ``level`` (of ``ceiling``)."""
    found = _finding(service, metric, score)
    return found.model_copy(update={"numbers": {**found.numbers, "recent_level": level,
                                                **({"ceiling": ceiling} if ceiling else {})}})


def _saturated_note(findings: list[Finding], service: str, topology=SHOP) -> bool:
    ranked = rank_services(number_findings(findings), [], topology, ["frontend"])
    notes = next(e.notes for e in ranked if e.service == service)
    return any("of capacity with no rise in requests" in n for n in notes)


def test_a_resource_used_up_with_no_more_work_is_where_trouble_starts():
    """payment's CPU at 92 % of its limit with no more requests outranks an equally strong deviation
    that uses up nothing; at 50 %, or with its request rate up too, it is no saturation of its own."""
    noisy = _finding("email", "syscall_write", 0.8).model_copy(update={"onset": T0 - 600})  # first, but nothing full
    assert _order([_cpu("payment", 92.0), noisy])[0] == "payment"
    assert _saturated_note([_cpu("payment", 92.0)], "payment")
    assert _saturated_note([_cpu("payment", 0.92, ceiling=1.0, metric="cpu_usage_ratio")], "payment")
    assert not _saturated_note([_cpu("payment", 50.0)], "payment")
    assert not _saturated_note([_cpu("payment", 92.0, ceiling=None, metric="cpu_usage_millicores")], "payment")
    assert not _saturated_note([_cpu("payment", 92.0, metric="cpu_idle_percent")], "payment")  # what is left
    more_work = _finding("payment", "requests_per_second", 0.9)
    assert not _saturated_note([_cpu("payment", 92.0), more_work], "payment")
    weak = _cpu("payment", 92.0, score=SIGNIFICANT / 2)
    assert not _saturated_note([weak], "payment")
    host = _cpu("payment", 92.0).model_copy(update={"numbers": {"recent_level": 92.0, "ceiling": 100.0,
                                                               "shared_with": 3.0, "active_z": 5.0}})
    assert not _saturated_note([host], "payment")  # the host's CPU under every pod on it


def test_saturation_under_load_that_came_in_above_is_the_loads_doing():
    """api's request rate rose and db, which api calls, filled its CPU: the load explains db's saturation."""
    topology = {"frontend": ["api"], "api": ["db"], "db": []}
    load = _finding("api", "requests_per_second", 0.9).model_copy(update={"onset": T0 - 240})
    assert not _saturated_note([load, _cpu("db", 95.0)], "db", topology)
    assert _saturated_note([_cpu("db", 95.0)], "db", topology)


def test_a_fall_at_a_callee_several_services_call_is_shared_among_its_callers():
    """cart, which frontend and checkout both call, doing less work says one of them stopped sending it, not
    which: each gets half the coverage that a fall at payment, which checkout alone calls, gives checkout. So a
    service with a clear deviation of its own outranks the callers a shared callee's fall implicates."""
    def scores(findings: list[Finding]) -> dict[str, float]:
        return {e.service: e.score for e in rank_services(number_findings(findings), [], SHOP, ["frontend"])}

    shared, sole = scores([_fell("cart", 0.8)]), scores([_fell("payment", 0.8)])
    assert shared["checkout"] == pytest.approx(shared["frontend"])
    assert shared["checkout"] == pytest.approx(sole["checkout"] / 2)
    assert _order([_fell("cart", 0.8), _finding("email", SERVER, 0.3)])[0] == "email"


def test_a_caller_blamed_by_its_quiet_callees_cites_their_falls():
    falls = number_findings([_fell("payment", 0.8), _fell("email", 0.75)])
    checkout = rank_services(falls, [], SHOP, ["frontend"])[0]
    assert checkout.service == "checkout" and not checkout.findings
    assert sorted(f.id for f in checkout.blamed_by) == sorted(f.id for f in falls)


def test_equal_scores_go_to_the_earlier_onset_even_at_time_zero_then_by_name() -> None:
    """One order for every ranking: an onset at t=0 is a known onset (it had been read as none and put last)."""
    late = ServiceEvidence("a-late", score=0.5, onset=60.0)
    zero = ServiceEvidence("b-zero", score=0.5, onset=0.0)
    unknown = ServiceEvidence("c-unknown", score=0.5)
    top = ServiceEvidence("z-top", score=0.9)
    assert [e.service for e in in_rank_order([unknown, late, zero, top])] == ["z-top", "b-zero", "a-late", "c-unknown"]


def test_a_service_whose_resources_rose_before_everything_below_it_led_the_trouble_down():
    """A surge at the gateway seen through a few requests a sample: no rise of its request rate is significant,
    but its CPU filled minutes before its dependency's did. With the call graph, the
    gateway led the trouble down its calls and ranks above the equally full store; a dependency that deviated
    within the onset tolerance of it, or a gateway whose own resources did not rise, earns nothing."""
    topology = {"gateway": ["store"], "store": []}
    gateway = _cpu("gateway", 99.0, score=0.75).model_copy(update={"onset": T0 - 600})
    store = _cpu("store", 99.0).model_copy(update={"onset": T0 - 240})  # the clearer deviation
    ranked = rank_services(number_findings([gateway, store]), [], topology, ["store"])
    assert [e.service for e in ranked][:2] == ["gateway", "store"]
    assert any("deviated after it" in n for n in ranked[0].notes)
    at_once = store.model_copy(update={"onset": T0 - 570})
    ranked = rank_services(number_findings([gateway, at_once]), [], topology, ["store"])
    assert not any("deviated after it" in n for e in ranked for n in e.notes)
    slow = _finding("gateway", SERVER, 1.0).model_copy(update={"onset": T0 - 600})
    ranked = rank_services(number_findings([slow, store]), [], topology, ["store"])
    assert not any("deviated after it" in n for e in ranked for n in e.notes)


def test_a_callee_explains_its_callers_only_through_what_it_passes_on():
    """The gateway slowed after both its callees moved. One callee's own latency rose: callers feel that. The
    other's only deviation is a busier syscall count, a metric of no known family (or its requests rising): that
    is no trouble it passes on, so it explains no caller and the slow callee ranks first."""
    topology = {"gateway": ["orders", "payments"], "orders": [], "payments": []}
    gateway = _finding("gateway", SERVER, 0.6)
    slow = _finding("orders", SERVER, 0.7).model_copy(update={"onset": T0 - 400})
    for busy in ("syscall_write", "requests_per_second"):
        moved = _finding("payments", busy, 0.75).model_copy(update={"onset": T0 - 400})
        ranked = rank_services(number_findings([gateway, slow, moved]), [], topology, ["gateway"])
        assert [e.service for e in ranked][:2] == ["orders", "payments"], (busy, [(e.service, e.score) for e in ranked])
        notes = {e.service: e.notes for e in ranked}
        assert "explains anomalies in callers ['gateway']" in notes["orders"]
        assert not any("explains anomalies in callers" in n for n in notes["payments"]), busy


def test_a_deviation_passed_on_to_callers_moved_its_family_bad_way():
    assert passed_on(_finding("db", SERVER, 0.8))
    assert passed_on(_finding("db", "cpu_usage_ratio", 0.8))
    assert not passed_on(_finding("db", SERVER, 0.8).model_copy(update={"direction": "down"}))  # faster answers
    assert not passed_on(_finding("db", "threads_live", 0.8))  # of no known family
    assert not passed_on(_finding("db", "requests_per_second", 0.8))  # work it is sent
