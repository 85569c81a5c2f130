"""Running a study's plan: the analyses, the multiplicity correction, the power, the report.

``results.json`` holds every result's ``to_dict()`` with sorted keys and no
time stamps or paths, so a re-run on the same data gives the same bytes,
whichever source the data came from. Every difference between the plan
and what ran is a *deviation*, listed in ``results.json`` and in the
report: an outcome the data lack, an estimator that could not run, rows
dropped for missing values, an alternative the estimator cannot test, an
allocation log whose head is not the pinned one, units analysed in another
arm than drawn, and every change against the registered plan.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from effekt.errors import EffektError
from effekt.study.spec import Analysis, Study, StudyError, plan_spec

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StudyRun", "run_study", "write_atomic"]

#: results.json's layout version
FORMAT = 1


@dataclass(frozen=True)
class StudyRun:
    """What :meth:`Study.run` did: the results written, the deviations, where the files are."""

    results: Mapping[str, Any]
    deviations: tuple[str, ...]
    out: Path | None
    estimates: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def results_path(self) -> Path | None:
        return None if self.out is None else self.out / "results.json"

    @property
    def report_path(self) -> Path | None:
        return None if self.out is None else self.out / "report.html"

    def tidy(self) -> pd.DataFrame:
        """One row per analysis that ran: outcome, estimator, estimate, CI, raw and adjusted p-value."""
        import pandas as pd

        rows = []
        for a, result in zip(self.results["analyses"], self.estimates):
            head = getattr(result, "headline", result) if hasattr(result, "rows") else result
            low, high = getattr(head, "conf_int", (None, None))
            rows.append({
                "outcome": a["outcome"], "role": a["role"], "estimator": a["estimator"],
                "estimate": getattr(head, "estimate", None), "conf.low": low, "conf.high": high,
                "p.value": getattr(head, "p_value", None), "p.adjusted": a.get("p_adjusted"), "n": getattr(head, "n", None),
            })
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """The estimates and the deviations as text."""
        table = self.tidy()
        text = table.to_string(index=False, float_format=lambda v: f"{v:.4g}") if len(table) else "no analysis ran"
        lines = [str(self.results["study"]["title"]), "", text, ""]
        if self.deviations:
            lines.append(f"{len(self.deviations)} deviation(s) from the plan:")
            lines += [f"  - {d}" for d in self.deviations]
        else:
            lines.append("no deviations from the plan")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.results)

    def to_json(self) -> str:
        return dump_results(self.results)


def dump_results(results: Mapping[str, Any]) -> str:
    return json.dumps(results, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


# ---------------------------------------------------------------------------- the run
def run_study(study: Study, out: str | os.PathLike[str] | None, *, data: pd.DataFrame | None = None) -> StudyRun:
    from effekt import registry
    from effekt.study.sources import normalise, read_source

    deviations: list[str] = []
    frame = normalise(read_source(study.data) if data is None else data, id=study.id)
    _check_design_columns(study, frame)

    log_info, flow, lottery_arms = _allocation(study, frame, deviations)
    balance = None
    if study.balance:
        from effekt.design.balance import balance_table

        balance = balance_table(frame, covariates=list(study.balance), treatment=study.treatment,
                                categorical=list(study.categorical) or None, sims=study.sims, seed=study.seed)

    installed = set(registry.available()["name"])
    ran: list[tuple[Analysis, Any, int]] = []
    for a in study.analyses:
        result, n_dropped = _analyse(study, a, frame, installed, deviations)
        if result is not None:
            ran.append((a, result, n_dropped))

    adjusted = _adjust(study, ran)
    power, info = _power(study, frame, deviations)
    deviations += _against_registered(study)

    analyses = []
    for a, result, n_dropped in ran:
        analyses.append({
            "outcome": a.name, "label": a.label or a.name, "role": a.role, "type": a.type,
            "estimator": a.estimator, "family": a.family, "alternative": a.alternative,
            "p_adjusted": adjusted.get(a.key), "rows_dropped": n_dropped, "result": result.to_dict(),
        })
    from effekt.result import to_jsonable

    results = to_jsonable({
        "format": FORMAT,
        "study": {"title": study.title, **{k: v for k, v in study.metadata.items()}},
        "data": {"rows": int(len(frame)), "columns": [str(c) for c in frame.columns]},
        "design": {"treatment": study.treatment, "blocks": study.blocks, "randomisation": study.randomisation},
        "allocation_log": log_info,
        "consort": flow.to_dict() if flow is not None else None,
        "balance": balance.to_dict() if balance is not None else None,
        "multiplicity": {"method": study.method, "alpha": study.alpha},
        "analyses": analyses,
        "power": power.to_dict() if power is not None else None,
        "information_fraction": info,
        "deviations": list(deviations),
    })
    estimates = tuple(r for _, r, _ in ran)
    run = StudyRun(results=results, deviations=tuple(deviations), out=Path(out) if out is not None else None,
                   estimates=estimates)
    if out is not None:
        _write(study, run, ran, adjusted, flow, balance, power, info, log_info, lottery_arms)
    return run


def _column_problem(study: Study, frame: pd.DataFrame, table: tuple[str | int, ...], key: str, column: str) -> StudyError | None:
    if column in frame.columns:
        return None
    import difflib

    from effekt.study.spec import _Reader

    close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=2, cutoff=0.6)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(map(repr, list(frame.columns)[:20]))
    return _Reader(study.path, study.text).fail(table, key, f"the data have no column {column!r}.{hint} They have {shown}.")


def _check_design_columns(study: Study, frame: pd.DataFrame) -> None:
    """The design's columns and every analysis's adjustment columns must be in the data (a StudyError naming the line)."""
    from effekt import registry
    from effekt.vocabulary import ColumnName, ColumnNames, constraint_for

    checks: list[tuple[tuple[str | int, ...], str, str]] = [(("design",), "treatment", study.treatment)]
    for key in ("id", "blocks"):
        value = getattr(study, key)
        if value is not None:
            checks.append((("design",), key, value))
    checks += [(("design",), "balance", c) for c in study.balance]
    for a in study.analyses:
        t: tuple[str | int, ...] = ("outcomes", a.index)
        checks += [(t, "covariates", c) for c in a.covariates]
        cls = registry.get_estimator(a.estimator)
        for key, value in a.options.items():
            c = constraint_for(cls, key)
            if isinstance(c, (ColumnName, ColumnNames)) and value is not None:
                for col in [value] if isinstance(value, str) else list(value):
                    checks.append(((*t, "options"), key, col))
    if study.id is not None and study.id in frame.columns and frame[study.id].duplicated().any():
        from effekt.study.spec import _Reader

        dup = frame[study.id][frame[study.id].duplicated()].iloc[0]
        raise _Reader(study.path, study.text).fail(("design",), "id", f"the id column {study.id!r} is not unique (e.g. {dup!r} twice).")
    for table, key, column in checks:
        problem = _column_problem(study, frame, table, key, column)
        if problem is not None:
            raise problem


def _allocation(study: Study, frame: pd.DataFrame, deviations: list[str]) -> tuple[dict[str, Any] | None, Any, tuple[str, ...]]:
    """Verify the allocation log against its pin; audit it against the data; the CONSORT flow."""
    if study.log is None:
        return None, None, ()
    from effekt.design.log import verify_log

    spec = study.log
    if not spec.path.exists():
        deviations.append(f"the allocation log {spec.path.name} is missing; the allocation could not be checked.")
        return {"ok": False, "head": None, "pinned": spec.pin}, None, ()
    check = verify_log(spec.path)
    head = f"{check.n_records}:{check.head_hash}" if check.ok and check.head_hash is not None else None
    info: dict[str, Any] = {"ok": bool(check.ok), "records": check.n_records, "head": head, "pinned": spec.pin}
    if not check.ok:
        deviations.append(f"the allocation log {spec.path.name} does not verify: {check.message}.")
        return info, None, ()
    if spec.pin is not None and head != spec.pin:
        pinned = verify_log(spec.path, pin=spec.pin)
        how = ("records were added after the pin" if pinned.ok else
               "the pinned record is not in the log: it was truncated, rolled back or rewritten")
        deviations.append(f"the allocation log's head is {head}, not the pinned {spec.pin} ({how}).")
    lottery = _lottery(spec.path)
    if lottery is None:
        return info, None, ()
    alloc = lottery.allocations()
    if spec.arm not in lottery.arms:
        from effekt.study.spec import _Reader

        raise _Reader(study.path, study.text).fail(
            ("design", "log"), "arm", f"{spec.arm!r} is not an arm of the log; its arms are {', '.join(map(repr, lottery.arms))}.")
    other = [a for a in lottery.arms if a != spec.arm]
    flow = None
    if study.id is not None:
        from effekt.design.allocation_audit import audit
        from effekt.design.consort import consort_from_lottery
        from effekt.design.log import unit_key

        ids = frame[study.id].map(unit_key)
        delivered = dict(zip(ids, np.where(frame[study.treatment].to_numpy() == 1, spec.arm, other[0] if other else "")))
        alloc = alloc.assign(key=alloc["id"].map(unit_key))
        not_in_data = alloc.loc[~alloc["key"].isin(set(ids)), "id"].tolist()
        not_in_log = sorted(set(ids) - set(alloc["key"]))
        if not_in_data:
            deviations.append(f"{len(not_in_data)} randomised unit(s) are not in the data (e.g. {', '.join(map(str, not_in_data[:3]))}).")
        if not_in_log:
            deviations.append(f"{len(not_in_log)} unit(s) in the data were never randomised in the log (e.g. {', '.join(not_in_log[:3])}).")
        table = alloc.assign(randomised=alloc["arm"], delivered=alloc["key"].map(delivered))
        au = audit(table, id="id", batch="batch", randomised="randomised", delivered="delivered")
        if au.n_swapped:
            deviations.append(
                f"batch{'es' if len(au.swapped_batches) > 1 else ''} {', '.join(map(str, au.swapped_batches))} "
                f"({au.n_swapped} people) were delivered the other arm than drawn in the lottery; "
                "they are analysed by the arm delivered, as the treatment column records it."
            )
        if au.n_wrong_arm:
            deviations.append(f"{au.n_wrong_arm} unit(s) outside swapped batches got another arm than drawn.")
        flow = consort_from_lottery(lottery, audit=au if not not_in_data else None)
        info["swapped_batches"] = [str(b) for b in au.swapped_batches]
    return info, flow, tuple(lottery.arms)


def _lottery(path: Path) -> Any:
    """The lottery recorded in a log, opened on a copy (the study folder is never written)."""
    from effekt.design.lottery import BatchLottery

    with path.open("rb") as fh:
        first = fh.readline()
    try:
        config = json.loads(first)["config"]
    except (ValueError, KeyError, TypeError):
        return None
    if config.get("rules"):
        return None  # exclusion rules are code and are not in the log: the flow cannot be replayed
    tmp = Path(tempfile.mkdtemp(prefix="effekt-log-"))
    try:
        shutil.copyfile(path, tmp / path.name)
        head = path.with_name(path.name + ".head")
        if head.exists():
            shutil.copyfile(head, tmp / head.name)
        lot = BatchLottery(tmp / path.name, seed=config["seed"], arms=config["arms"], ratio=config["ratio"],
                           odd=config["odd"], capacity=config["capacity"] or None, on_full=config["on_full"])
        lot.allocations()  # replayed now, while the copy exists
        return _Replayed(lot)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Replayed:
    """A lottery's tables, read once from its log."""

    def __init__(self, lot: Any):
        self.arms = lot.arms
        self._alloc = lot.allocations()
        self._excl = lot.exclusions()

    def allocations(self) -> pd.DataFrame:
        return self._alloc.copy()

    def exclusions(self) -> pd.DataFrame:
        return self._excl.copy()


def _analyse(study: Study, a: Analysis, frame: pd.DataFrame, installed: set[str],
             deviations: list[str]) -> tuple[Any, int]:
    from effekt import registry
    from effekt.vocabulary import signature_options

    what = f"{a.label or a.name} ({a.estimator})"
    missing = [c for c in a.outcome_columns if c not in frame.columns]
    if missing:
        deviations.append(f"{what}: not analysed; the data have no column {', '.join(map(repr, missing))}.")
        return None, 0
    if a.estimator not in installed:
        deviations.append(f"{what}: not analysed; the estimator {a.estimator!r} is not installed.")
        return None, 0
    cls = registry.get_estimator(a.estimator)
    takes = signature_options(cls.fit)
    spec = plan_spec(a, study.treatment, takes)
    if a.alternative != "two-sided" and "alternative" not in takes:
        deviations.append(f"{what}: {a.estimator} tests two-sided only; the plan's alternative={a.alternative!r} "
                          "was not applied (halve the p-value in the planned direction, if the estimate lies in it).")
    used = [*a.outcome_columns, study.treatment, *a.covariates,
            *[v for k, v in a.options.items() if isinstance(v, str) and v in frame.columns and k != "missing"]]
    n_missing = int(frame[list(dict.fromkeys(used))].isna().any(axis=1).sum())
    if n_missing and spec.get("missing") == "drop":
        deviations.append(f"{what}: {n_missing} row(s) with a missing value dropped (missing='drop').")
    try:
        result = registry.estimate(a.estimator, data=frame, **spec)
    except EffektError as exc:
        deviations.append(f"{what}: not estimated: {' '.join(str(exc).split())}")
        return None, 0
    return result, n_missing if spec.get("missing") == "drop" else 0


def _p(result: Any) -> float | None:
    head = getattr(result, "headline", result) if hasattr(result, "rows") else result
    p = getattr(head, "p_value", None)
    return None if p is None or not np.isfinite(p) else float(p)


def _adjust(study: Study, ran: Sequence[tuple[Analysis, Any, int]]) -> dict[str, float]:
    from effekt.estimators.multiplicity import adjust_pvalues

    families: dict[str, list[tuple[str, float]]] = {}
    for a, result, _ in ran:
        p = _p(result)
        if a.family is not None and p is not None:
            families.setdefault(a.family, []).append((a.key, p))
    out: dict[str, float] = {}
    for members in families.values():
        table = adjust_pvalues([p for _, p in members], study.method, alpha=study.alpha)
        out.update({key: float(v) for (key, _), v in zip(members, table["p.adjusted"])})
    return out


def _power(study: Study, frame: pd.DataFrame, deviations: list[str]) -> tuple[Any, float | None]:
    if study.power is None:
        return None, None
    from effekt import registry

    try:
        power = registry.power(study.power.calculator, **dict(study.power.inputs))
    except EffektError as exc:
        deviations.append(f"power calculation {study.power.calculator}: not solved: {' '.join(str(exc).split())}")
        return None, None
    info = None
    if study.power.planned_n is not None:
        info = len(frame) / study.power.planned_n
    return power, info


def _against_registered(study: Study) -> list[str]:
    """Every difference between the registered plan and this study file's analyses."""
    if study.registered_plan is None:
        return []
    name = study.registered_plan.name
    try:
        plan = Study.from_toml(study.registered_plan)
    except StudyError as exc:
        return [f"the registered plan {name} cannot be read: {exc}"]
    out: list[str] = []
    now = {a.key: a for a in study.analyses}
    then = {a.key: a for a in plan.analyses}
    now_names = {a.name for a in study.analyses}
    for key, old in then.items():
        if key in now:
            new = now[key]
            for field_ in ("role", "type", "column", "time", "event", "cause", "horizon", "covariates", "alternative", "family"):
                if getattr(old, field_) != getattr(new, field_):
                    out.append(f"{old.name} ({old.estimator}): {field_} changed from {getattr(old, field_)!r} "
                               f"to {getattr(new, field_)!r} against the registered plan.")
            for opt in sorted(set(old.options) | set(new.options)):
                if old.options.get(opt) != new.options.get(opt):
                    out.append(f"{old.name} ({old.estimator}): option {opt} changed from {old.options.get(opt)!r} "
                               f"to {new.options.get(opt)!r} against the registered plan.")
        elif old.name in now_names:
            instead = ", ".join(a.estimator for a in study.analyses if a.name == old.name and a.key not in then)
            out.append(f"{old.name}: estimator {old.estimator} of the registered plan was replaced"
                       f"{' by ' + instead if instead else ''}.")
        else:
            out.append(f"{old.name} ({old.estimator}): in the registered plan, not analysed.")
    for key, new in now.items():
        if key not in then and new.name not in {a.name for a in plan.analyses}:
            out.append(f"{new.name} ({new.estimator}): not in the registered plan.")
    if plan.method != study.method:
        out.append(f"multiplicity method changed from {plan.method!r} to {study.method!r} against the registered plan.")
    if plan.treatment != study.treatment:
        out.append(f"treatment column changed from {plan.treatment!r} to {study.treatment!r} against the registered plan.")
    return out


def _write(study: Study, run: StudyRun, ran: Sequence[tuple[Analysis, Any, int]], adjusted: Mapping[str, float],
           flow: Any, balance: Any, power: Any, info: float | None, log_info: Mapping[str, Any] | None,
           arms: tuple[str, ...]) -> None:
    """results.json to a temporary name; the report (itself atomic); then results.json renamed into place."""
    from effekt.report import PlannedEstimate, Report

    assert run.out is not None
    out = run.out
    out.mkdir(parents=True, exist_ok=True)
    final = out / "results.json"
    fd, tmp = tempfile.mkstemp(prefix=".results.json.", suffix=".tmp", dir=out)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(dump_results(run.results).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        metadata = {k: str(v) for k, v in study.metadata.items()}
        metadata["data"] = study.data.describe(study.folder)
        if study.randomisation:
            metadata["randomisation"] = study.randomisation
        rep = Report(study.title, language=study.language, metadata=metadata)
        arm_labels = _arm_labels(study)
        if flow is not None:
            rep.add_consort(flow, labels=arm_labels)
        if balance is not None:
            rep.add_balance(balance, labels=arm_labels)
        rep.add_estimates([
            PlannedEstimate(outcome=a.name, role=a.role, estimator=a.estimator, result=_named(r, study, a),
                            p_adjusted=adjusted.get(a.key), family=a.family, label=a.label)
            for a, r, _ in ran
        ])
        if power is not None:
            rep.add_power(power, information_fraction=info)
        if log_info is not None and log_info.get("head"):
            rep.add_log_head(str(log_info["head"]), study.log.pin if study.log is not None else None)
        rep.add_deviations(list(run.deviations))
        rep.write(out)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise



def _arm_labels(study: Study) -> dict[Any, str] | None:
    """The study's ``arm_names`` keyed by every spelling an arm has in the
    balance table and the CONSORT flow (0/1, their text, and the flow's
    'control'/'treatment'), so both show the names the figures use."""
    names = dict(study.arm_names)
    if not names:
        return None
    labels: dict[Any, str] = {}
    for role, keys in (("control", (0, "0", "control")), ("treated", (1, "1", "treated", "treatment"))):
        if role in names:
            labels.update({k: names[role] for k in keys})
    return labels


def _named(result: Any, study: Study, a: Analysis) -> Any:
    """The result with its picture naming arms and causes by the study's names."""
    import dataclasses

    labels: dict[Any, str] = dict(study.arm_names)
    labels.update({int(k): v for k, v in a.causes.items()})
    plotter = getattr(result, "plotter", None)
    if not labels or plotter is None or not dataclasses.is_dataclass(result):
        return result

    def named(res: Any, *, ax: Any = None, labels: Any = None, **kwargs: Any) -> Any:
        return plotter(res, ax=ax, labels=labels if labels is not None else chosen, **kwargs)

    chosen = labels
    return dataclasses.replace(result, plotter=named)  # type: ignore[type-var]
