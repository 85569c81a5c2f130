"""Numbers as a report prints them, and the multi-model table."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effekt as ef
from effekt.errors import DataError
from effekt.report import ResultsTable, format_ci, format_count, format_number, format_p, format_value, table
from effekt.result import EffectResult, EffectTable

from .conftest import trial


@pytest.mark.parametrize(
    ("x", "digits", "language", "text"),
    [
        (0.125, 2, "da", "0,13"),  # half up; Python's f"{0.125:.2f}" gives '0.12' (half to even)
        (0.125, 2, "en", "0.13"),
        (2.675, 2, "en", "2.68"),  # the float is 2.67499999...; f"{2.675:.2f}" gives '2.67'
        (2.675, 2, "da", "2,68"),
        (-0.125, 2, "en", "-0.13"),  # half away from zero
        (-0.001, 2, "en", "0.00"),  # no minus sign on a rounded zero
        (1234567.891, 1, "da", "1234567,9"),
        (7.72, 3, "en", "7.720"),  # the resource-course chi-square, as VIVE (2019) prints it
        (1e-7, 3, "en", "0.000"),
        (12, 0, "en", "12"),
    ],
)
def test_format_number(x, digits, language, text):
    assert format_number(x, digits, language) == text


def test_format_number_groups_thousands():
    assert format_number(1234567.891, 1, "da", thousands=True) == "1.234.567,9"
    assert format_number(1234567.891, 1, "en", thousands=True) == "1,234,567.9"
    assert format_count(218, "da") == "218" and format_count(12345, "da") == "12.345"


@pytest.mark.parametrize("x", [None, float("nan"), float("inf"), "text"])
def test_missing_prints_a_dash(x):
    assert format_number(x) == "–"


@pytest.mark.parametrize("digits", [-1, 1.5, True])
def test_bad_digits(digits):
    with pytest.raises(DataError, match="digits"):
        format_number(1.0, digits)


def test_p_values_and_intervals():
    assert format_p(0.0004) == "< 0.001" and format_p(0.0004, "da") == "< 0,001"
    assert format_p(0.04567, "da") == "0,046"
    assert format_ci(0.1234, 0.5678, 2) == "[0.12, 0.57]"
    assert format_ci(0.1234, 0.5678, 2, "da") == "[0,12; 0,57]"  # the comma is the decimal mark
    assert format_value(0.3) == "0.3" and format_value(20.0) == "20" and format_value(True) == "True"


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(min_value=0, max_value=6))
def test_rounds_the_printed_decimal_half_up(x, digits):
    # the oracle: decimal arithmetic on the shortest repr
    want = Decimal(repr(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    got = format_number(x, digits)
    assert Decimal(got) == want
    assert format_number(x, digits, "da") == got.replace(".", ",")


# ---------------------------------------------------------------- table()

def _r(est, se, term="z", estimator="difference_in_means", n=100, df=98.0, se_type="HC2"):
    return EffectResult.from_t(est, se, df=df, estimator=estimator, estimand="ate", term=term, n=n, se_type=se_type)


def test_table_layout_like_modelsummary():
    tab = table({"unadjusted": _r(1.25, 0.5), "adjusted": _r(1.0, 0.4, estimator="lin", df=95)}, digits=2)
    assert isinstance(tab, ResultsTable)
    f = tab.frame
    assert list(f.columns) == ["unadjusted", "adjusted"]
    assert f.loc[("z", "estimate")].tolist() == ["1.25", "1.00"]
    assert f.loc[("z", "std_error")].tolist() == ["(0.50)", "(0.40)"]
    assert f.loc[("n", "")].tolist() == ["100", "100"]
    assert f.loc[("estimator", "")].tolist() == ["difference_in_means", "lin"]
    assert f.loc[("se_type", "")].tolist() == ["HC2", "HC2"]
    assert f.loc[("df", "")].tolist() == ["98", "95"]
    md = tab.to_markdown()
    assert md.splitlines()[0] == "|  | unadjusted | adjusted |"
    assert "| z | 1.25 | 1.00 |" in md and "|  | (0.50) | (0.40) |" in md
    html = tab.to_html()
    assert html.startswith('<table class="effekt-table models">') and '<tbody class="goodness">' in html
    assert "1.25" in str(tab)


def test_table_aligns_terms_across_models():
    a = EffectTable("event_study", (_r(0.1, 0.1, term="e=-1"), _r(0.5, 0.1, term="e=0"), _r(0.4, 0.1, term="post")),
                    headline_term="post")
    b = _r(0.45, 0.1, term="post", estimator="did_2x2")
    tab = table([a, b], below="ci", digits=1)
    assert list(tab.frame.columns) == ["(1)", "(2)"]
    assert tab.frame.loc[("e=-1", "estimate")].tolist() == ["0.1", ""]
    assert tab.frame.loc[("post", "conf_int")].tolist()[1] == "[0.3, 0.6]"  # 0.45 +/- 1.98 * 0.1
    assert len(tab.data) == 4
    only = table([a, b], terms=["post"], labels={"post": "after"})
    assert [t for t, s in only.frame.index if s == "estimate"] == ["after"]


def test_table_in_danish():
    tab = table([_r(1.25, 0.5)], language="da", below="p")
    assert tab.frame.loc[("z", "estimate")].tolist() == ["1,250"]
    assert tab.frame.loc[("z", "p_value")].tolist() == ["0,014"]
    assert ("Antal", "") in tab.frame.index and ("fg", "") in tab.frame.index


def test_table_of_real_fits():
    df = trial()
    fits = {"dim": ef.estimate("difference_in_means", data=df, outcome="earnings", treatment="z"),
            "lin": ef.estimate("lin", data=df, outcome="earnings", treatment="z", covariates=["age"])}
    tab = table(fits)
    assert tab.data["estimate"].tolist() == [fits["dim"].estimate, fits["lin"].estimate]
    assert tab.frame.loc[("n", "")].tolist() == ["240", "240"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: table([]), "at least one"),
        (lambda: table([_r(1, 1)], names=["a", "b"]), "one name per result"),
        (lambda: table([_r(1, 1), _r(1, 1)], names=["a", "a"]), "used twice"),
        (lambda: table({"a": _r(1, 1)}, names=["b"]), "not both"),
        (lambda: table([_r(1, 1)], below="stars"), "below="),
        (lambda: table([_r(1, 1)], language="sv"), "language="),
        (lambda: table([_r(1, 1)], terms=["x"]), "no model estimates"),
        (lambda: table([ef.power("two_means", d=0.3, power=0.8)]), "power calculation"),
    ],
)
def test_table_bad_input(call, match):
    with pytest.raises(DataError, match=match):
        call()
