from __future__ import annotations

import pytest

from tests.lab import start_lab


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    lab = start_lab(tmp_path_factory.mktemp("lab"))
    yield lab
    lab.run("down")
