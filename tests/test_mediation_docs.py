"""The mediation modules' docstring examples run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import re
import warnings

import pytest

from effekt.errors import EffektWarning

MODULES = [
    "effekt.mediation.mediation",
    "effekt.mediation.sensitivity_analysis",
    "effekt.mediation.product_of_coefficients",
    "effekt.mediation.models",
    "effekt.mediation.plot",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EffektWarning)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_user_guide_examples_run() -> None:
    # every python block of docs/mediation.md runs as written, in order
    import re
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    page = Path(__file__).resolve().parents[1] / "docs" / "mediation.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EffektWarning)
        for block in blocks:
            if "effekt_survival" in block:
                continue  # the plugin's section runs in plugins/survival/tests/test_mediation.py
            exec(compile(block, str(page), "exec"), namespace)


@pytest.mark.parametrize("name", ["mediation", "product_of_coefficients"])
def test_docstring_lists_every_option(name: str) -> None:
    import inspect

    import effekt as ef

    cls = ef.get_estimator(name)
    doc = inspect.getdoc(cls) or ""
    params = "\n" + doc.split("Parameters")[1].split("Returns")[0]
    for option in inspect.signature(cls.fit).parameters:
        if option == "self":
            continue
        assert re.search(rf"\n{option}\b.* :|, {option}\b.* :|\n{option}, ", params), (
            f"{name}: option {option!r} is not documented under Parameters"
        )


def test_sensitivity_docstring_lists_its_own_options() -> None:
    import inspect

    from effekt.mediation import Mediation, sensitivity

    doc = inspect.getdoc(sensitivity) or ""
    own = set(inspect.signature(sensitivity).parameters) - set(inspect.signature(Mediation.fit).parameters)
    assert own == {"rho"}
    for option in ("rho", "sims", "se_type"):
        assert f"\n{option} :" in doc


def test_plot_effects_both_arms_and_bad_option() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    import effekt as ef
    from effekt.errors import DesignError
    from effekt.mediation import Mediation, plot_effects

    sim = Mediation.simulate(np.random.default_rng(2), n=200, effect=0.5)
    tab = ef.estimate("mediation", data=sim.data, outcome="y", treatment="z", mediator="m",
                      interaction=True, sims=50, seed=1)
    fig = plot_effects(tab, arms="both")
    assert len(fig.axes[0].get_yticklabels()) == 5
    with pytest.raises(DesignError, match="arms='all' is not an option"):
        plot_effects(tab, arms="all")
