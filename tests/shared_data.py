"""Where the real data sets are: ``../shared/data`` beside the project root (never an absolute path).

CI lays ``shared/`` beside every clone, so under ``CI=true`` a missing data set fails the tests that
need it instead of skipping them.
"""

from __future__ import annotations

import os

import pytest

from agent.config import PROJECT_ROOT

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def needs(path) -> pytest.MarkDecorator:
    """Skip outside CI when ``path`` is absent; under CI run (and fail) regardless."""
    return pytest.mark.skipif(not path.exists() and not os.environ.get("CI"), reason=f"{path} is not present")
