"""The public API: everything in __all__ resolves, lazily, to the documented object."""

import subprocess
import sys

import funnel_models as fm


def test_every_public_name_resolves():
    for name in fm.__all__:
        assert getattr(fm, name) is not None, name


def test_functions_named_like_their_module_stay_functions_after_the_module_loads():
    import funnel_models.analysis.conversion
    import funnel_models.analysis.paths
    import funnel_models.analysis.time_in_stage  # noqa: F401

    for name in ("spells", "paths", "time_in_stage"):
        assert callable(getattr(fm, name)), name


def test_import_is_light():
    # The command line imports the package for every command, so it must not pull in
    # the statistics, Ibis or scikit-learn stacks until an analysis needs them.
    code = "import sys, funnel_models; print(sorted(m for m in ('scipy', 'ibis', 'sklearn', 'plotly') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
