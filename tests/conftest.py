"""Shared test set-up: hypothesis profiles and the backend fixture.

Profiles (choose with HYPOTHESIS_PROFILE):
- ``default``   few examples per test: the whole suite stays within a few minutes on 2 cores
- ``thorough``  many more examples, for a night run or before changing an op

The ``xp`` fixture runs a test once per backend: NumPy always, CuPy when a GPU is visible
(marked ``gpu``; skipped with a reason otherwise). ``MINICV_BACKEND=cupy pytest`` makes CuPy the
default for arrays the tests create from Python data.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from minicv import backend

settings.register_profile("default", max_examples=15, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test (numpy, or cupy when a GPU is visible)."""
    if request.param == "cupy":
        if not backend.gpu_available():
            pytest.skip("CuPy backend: no usable GPU here (CuPy missing or no device visible)")
        return backend._load_cupy()
    return np
