"""Entry-point discovery: listing, lookup, typos, broken and duplicated plugins."""

import sys
import textwrap

import pandas as pd
import pytest

import effekt as ef
from effekt import registry
from effekt.errors import PluginError


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Install two fake distributions on sys.path: one claims an existing name, one fails to import."""

    def dist(name, entry_points, module=None):
        info = tmp_path / f"{name.replace('-', '_')}-9.9.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 9.9\n")
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
        if module:
            (tmp_path / f"{module[0]}.py").write_text(module[1])

    dist("acme-dup", """
        [effekt.estimators]
        difference_in_means = acme_dup:Thing
        """, ("acme_dup", "class Thing:\n    name = estimand = kind = 'x'\n    def fit(self, data): pass\n"))
    dist("acme-broken", """
        [effekt.estimators]
        acme_estimator = acme_broken:Estimator
        [effekt.power]
        acme_power = acme_broken:Power
        """, ("acme_broken", "raise RuntimeError('compiled extension missing')\n"))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    yield
    for mod in ("acme_dup", "acme_broken"):
        sys.modules.pop(mod, None)
    registry.refresh()


def test_available_lists_core_and_plugins():
    table = ef.available()
    assert list(table.columns) == ["name", "group", "kind", "estimand", "distribution", "version", "status"]
    row = table.set_index("name").loc["difference_in_means"]
    assert (row.distribution, row.kind, row.estimand, row.status) == ("effekt", "itt", "ate", "ok")
    # the example third-party plugin under tests/example_plugin is discovered like any other
    assert table.set_index("name").loc["example_ancova", "distribution"] == "effekt-example-plugin"


def test_estimate_and_get_estimator():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4, 6, 8], "z": [0, 0, 0, 1, 1, 1]})
    assert ef.estimate("difference_in_means", data=df, outcome="y", treatment="z").estimate == pytest.approx(4.0)
    assert ef.get_estimator("example_ancova").name == "example_ancova"


def test_typo_suggests_the_nearest_names():
    with pytest.raises(PluginError, match="Did you mean 'difference_in_means'"):
        ef.get_estimator("diference_in_means")


def test_unknown_power_calculator():
    with pytest.raises(PluginError, match="no power calculator named 'nope'"):
        ef.power("nope", n=10)


def test_duplicate_name_names_both_distributions(fake_plugins):
    with pytest.raises(PluginError, match=r"'difference_in_means' is registered by both .*acme-dup 9.9.*Uninstall one"):
        ef.get_estimator("difference_in_means")
    table = ef.available()
    dup = table[table.name == "difference_in_means"]
    assert dup.status.str.startswith("duplicate").all() and len(dup) == 2


def test_broken_plugin_names_its_distribution_and_others_keep_working(fake_plugins):
    with pytest.raises(PluginError, match=r"'acme_estimator' from acme-broken 9.9 cannot be used: RuntimeError: compiled extension missing"):
        ef.get_estimator("acme_estimator")
    with pytest.raises(PluginError, match="acme-broken"):
        ef.power("acme_power")
    table = ef.available()
    assert table.set_index("name").loc["acme_estimator", "status"].startswith("broken: RuntimeError")
    assert ef.get_estimator("example_ancova").name == "example_ancova"


def test_a_misspelt_option_is_a_design_error_with_the_nearest_name():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "z": [0, 1, 0, 1], "b": [1, 1, 2, 2]})
    with pytest.raises(ef.DesignError, match=r"takes no option 'blokcs'. Did you mean 'blocks'\?"):
        ef.estimate("difference_in_means", data=df, outcome="y", treatment="z", blokcs="b")


def test_a_missing_required_option_is_a_design_error():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "z": [0, 1, 0, 1]})
    with pytest.raises(ef.DesignError, match="difference_in_means needs outcome="):
        ef.estimate("difference_in_means", data=df, treatment="z")
