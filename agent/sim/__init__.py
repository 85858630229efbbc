"""Scenario simulator: a seeded search / recommendation / ads serving system with injected faults,
written as case bundles with ground truth (see docs/simulator.md)."""

from agent.sim.scenario import (
    PATTERNS,
    SUPPORTED,
    Scenario,
    ScenarioError,
    build_scenario,
    fault_patterns,
    write_scenario,
)

__all__ = ["PATTERNS", "SUPPORTED", "Scenario", "ScenarioError", "build_scenario", "fault_patterns",
           "write_scenario"]
