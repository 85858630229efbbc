"""Self-evolution: one correction drives two pathways.

1. Case memory to knowledge: :func:`agent.evolve.corrections.correct_case` stores an engineer's
   correction and indexes the case; :func:`agent.evolve.distill.distill` merges corrected cases into
   experience notes.
2. Targeted Skill refinement: :class:`agent.evolve.workbench.Workbench` proposes a patch (rules offline,
   the LLM when configured), replays it against every stored case of the Skill and accepts it only
   without regressions; :mod:`agent.evolve.versions` keeps every version (history, diff, rollback).

See docs/evolution.md.
"""
