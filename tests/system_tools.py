"""System programs some tests need (Debian packages that .ci/run installs)."""

from __future__ import annotations

import os
import shutil

import pytest


def require(program: str, package: str) -> str:
    """The path of ``program``; a test failure in CI when it is missing, a skip elsewhere."""
    found = shutil.which(program)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is missing: .ci/run installs the Debian package {package}")
        pytest.skip(f"{program} not installed (apt-get install {package})")
    return found
