"""The study file: a pre-analysis plan in TOML, read and checked before any work.

Nothing in a study file is executed: it is parsed by :mod:`tomllib` into
numbers, text, lists and tables, and every key is checked against the
schema below; every path resolves inside the study's folder.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from effekt.errors import DesignError, EffektError
from effekt.study._lines import find_line

__all__ = [
    "Study", "Analysis", "DataSource", "LogSpec", "PowerSpec", "StudyError",
    "ROLES", "TYPES", "FORMATS", "ALTERNATIVES",
]

ROLES = ("primary", "secondary")
TYPES = ("continuous", "binary", "count", "time_to_event")
FORMATS = ("csv", "parquet", "duckdb", "sql")
ALTERNATIVES = ("two-sided", "greater", "less")
LANGUAGES = ("en", "da")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class StudyError(DesignError):
    """A study file that cannot be run as written: names the file, the line and the key."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None):
        super().__init__(message)
        self.key = key
        self.line = line


# -- the schema: key -> (type, meaning) ------------------------------------------------
_STR, _INT, _NUM, _BOOL, _STRS, _TABLE = "text", "a whole number", "a number", "true or false", "a list of text", "a table"

_SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "": {
        "study": (_TABLE, "metadata"),
        "design": (_TABLE, "the randomisation"),
        "data": (_TABLE, "the data source"),
        "outcomes": ("an array of tables ([[outcomes]])", "the planned analyses"),
        "multiplicity": (_TABLE, "the multiplicity correction"),
        "power": (_TABLE, "the power calculation"),
    },
    "study": {
        "title": (_STR, "the report's title"),
        "authors": (_STRS, "who is responsible"),
        "registration": (_STR, "trial registration"),
        "description": (_STR, "what the study is"),
        "language": (_STR, "report language, en or da"),
        "registered_plan": (_STR, "the registered copy of this file, to list deviations against"),
    },
    "design": {
        "randomisation": (_STR, "how units were randomised, in words"),
        "treatment": (_STR, "the analysed arm (0/1)"),
        "id": (_STR, "unit identifier column"),
        "blocks": (_STR, "block column (the lottery batch)"),
        "balance": (_STRS, "baseline covariates of the balance table"),
        "categorical": (_STRS, "numeric balance covariates to treat as categories"),
        "arm_names": (_TABLE, "the arms' names in figures: control = ..., treated = ..."),
        "seed": (_INT, "seed of the balance table's randomisation test"),
        "sims": (_INT, "re-randomisations of the balance table's omnibus test"),
        "log": (_TABLE, "the allocation log"),
    },
    "design.log": {
        "path": (_STR, "the allocation log (JSON Lines) in the study folder"),
        "pin": (_STR, "the head pinned when the plan was registered, RECORDS:HASH"),
        "arm": (_STR, "the log's arm coded 1 in the treatment column"),
    },
    "data": {
        "format": (_STR, "csv, parquet, duckdb or sql (default: from the path)"),
        "path": (_STR, "a file in the study folder"),
        "sep": (_STR, "CSV field separator"),
        "decimal": (_STR, "CSV decimal mark"),
        "encoding": (_STR, "CSV encoding"),
        "thousands": (_STR, "CSV thousands separator"),
        "table": (_STR, "a table of the database"),
        "query": (_STR, "a SELECT statement"),
        "url": (_STR, "a SQLAlchemy URL"),
        "url_env": (_STR, "an environment variable holding the SQLAlchemy URL"),
    },
    "outcomes": {
        "name": (_STR, "the outcome's name"),
        "label": (_STR, "the name shown in the report"),
        "role": (_STR, "primary or secondary"),
        "type": (_STR, "continuous, binary, count or time_to_event"),
        "estimator": (_STR, "a registered estimator (effekt plugins)"),
        "column": (_STR, "the outcome column (default: name)"),
        "time": (_STR, "time-to-event column"),
        "event": (_STR, "event column: 0 censored, 1..k causes"),
        "causes": (_TABLE, "cause code -> name"),
        "cause": (_INT, "the cause analysed"),
        "horizon": (_NUM, "the time at which the effect is read"),
        "covariates": (_STRS, "adjustment columns"),
        "alternative": (_STR, "two-sided, greater or less"),
        "family": (_STR, "multiplicity family (default: the role)"),
        "options": (_TABLE, "other options of the estimator"),
    },
    "multiplicity": {
        "method": (_STR, "holm, hochberg, bonferroni, bh or by"),
        "alpha": (_NUM, "level of the reject column"),
    },
    "power": {
        "calculator": (_STR, "a registered power calculator"),
        "inputs": (_TABLE, "its inputs; the one left out is solved for"),
        "planned_n": (_INT, "units planned in all, for the information fraction"),
        "label": (_STR, "what the calculation is for"),
    },
}
_REQUIRED = {
    "": ("study", "design", "data", "outcomes"),
    "study": ("title",),
    "design": ("treatment",),
    "design.log": ("path",),
    "outcomes": ("name", "role", "type", "estimator"),
    "power": ("calculator",),
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind == _STR:
        return isinstance(value, str)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _STRS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == _TABLE:
        return isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _got(value: Any) -> str:
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list", dict: "a table"}
    return f"{names.get(type(value), type(value).__name__)} ({value!r})"


@dataclass(frozen=True)
class DataSource:
    """Where the data come from (``[data]``): a file in the study folder or a database."""

    format: str
    path: Path | None = None
    sep: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    thousands: str | None = None
    table: str | None = None
    query: str | None = None
    url: str | None = None
    url_env: str | None = None

    def describe(self, folder: Path | None = None) -> str:
        """The source in words, with paths relative to the study folder and no password."""
        if self.path is not None:
            shown = os.path.relpath(self.path, folder) if folder is not None else self.path.name
            what = f"{self.format} file {shown}"
        elif self.url_env is not None:
            what = f"database at ${self.url_env}"
        else:
            what = f"database {_hide_password(self.url or '')}"
        if self.table:
            what += f", table {self.table}"
        if self.query:
            what += ", a query"
        return what


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


@dataclass(frozen=True)
class LogSpec:
    path: Path
    pin: str | None = None
    arm: str = "treatment"


@dataclass(frozen=True)
class Analysis:
    """One planned analysis: an outcome and the estimator that analyses it."""

    index: int
    name: str
    role: str
    type: str
    estimator: str
    label: str | None = None
    column: str | None = None
    time: str | None = None
    event: str | None = None
    causes: Mapping[str, str] = field(default_factory=dict)
    cause: int | None = None
    horizon: float | None = None
    covariates: tuple[str, ...] = ()
    alternative: str = "two-sided"
    family: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}/{self.estimator}"

    @property
    def outcome_columns(self) -> tuple[str, ...]:
        if self.type == "time_to_event":
            return tuple(c for c in (self.time, self.event) if c is not None)
        return (self.column or self.name,)


@dataclass(frozen=True)
class PowerSpec:
    calculator: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    planned_n: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class Study:
    """A study file, read and checked: see :meth:`from_toml` and ``docs/study.md``."""

    path: Path
    text: str = field(repr=False, compare=False)  # the file as read, for line numbers
    title: str
    metadata: Mapping[str, Any]
    language: str
    treatment: str
    id: str | None
    blocks: str | None
    balance: tuple[str, ...]
    categorical: tuple[str, ...]
    seed: int
    sims: int
    randomisation: str | None
    log: LogSpec | None
    data: DataSource
    analyses: tuple[Analysis, ...]
    method: str = "holm"
    alpha: float = 0.05
    power: PowerSpec | None = None
    registered_plan: Path | None = None
    arm_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Study:
        """Read and check a study file; nothing is run.

        Raises
        ------
        StudyError
            An unknown key (with the nearest valid names), a value of the wrong
            type, an unknown estimator or option, a path outside the study
            folder: the message starts with ``FILE:LINE: key:``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "study.toml").write_text('''
        ... [study]
        ... title = "A trial"
        ... [design]
        ... treatment = "z"
        ... [data]
        ... path = "trial.csv"
        ... [[outcomes]]
        ... name = "y"
        ... role = "primary"
        ... type = "continuous"
        ... estimator = "difference_in_means"
        ... ''')
        >>> Study.from_toml(d / "study.toml").analyses[0].key
        'y/difference_in_means'
        """
        p = Path(path)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise StudyError(f"study file {str(p)!r} does not exist; check the path.") from None
        except OSError as exc:
            raise StudyError(f"cannot read study file {str(p)!r}: {exc.strerror or exc}.") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise StudyError(f"{p.name}: the study file must be UTF-8 text.") from None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise StudyError(f"{p.name}: not valid TOML: {exc}.") from None
        return _Reader(p.resolve(), text).study(doc)


    # ------------------------------------------------------------------ running
    def load_data(self) -> Any:
        """The study's data as read from ``[data]``, normalised (see :mod:`effekt.study.sources`)."""
        from effekt.study.sources import normalise, read_source

        return normalise(read_source(self.data), id=self.id)

    def check_data(self, data: Any = None) -> list[str]:
        """Check the data's columns against the plan without running it.

        Raises :class:`StudyError` (naming the key and the line) for a design
        or adjustment column the data lack; returns the planned analyses
        whose outcome columns are missing, which a run lists as deviations.
        """
        from effekt.study.runner import _check_design_columns
        from effekt.study.sources import normalise

        frame = self.load_data() if data is None else normalise(data, id=self.id)
        _check_design_columns(self, frame)
        return [f"{a.label or a.name} ({a.estimator}): the data have no column "
                f"{', '.join(repr(c) for c in a.outcome_columns if c not in frame.columns)}"
                for a in self.analyses if any(c not in frame.columns for c in a.outcome_columns)]

    def run(self, out: str | os.PathLike[str] | None = None, *, data: Any = None) -> Any:
        """Run the plan; with ``out``, write ``results.json``, ``report.html`` and ``figures/`` there.

        ``data`` (a DataFrame) replaces the ``[data]`` source. Returns a
        :class:`~effekt.study.runner.StudyRun`. Raises :class:`StudyError`
        when a design or adjustment column is missing (an outcome column the
        data lack is a deviation, not an error).
        """
        from effekt.study.runner import run_study

        return run_study(self, out, data=data)


class _Reader:
    def __init__(self, path: Path, text: str):
        self.path = path
        self.text = text
        self.folder = path.parent

    # -- errors
    def line(self, table: Sequence[str | int], key: str | None) -> int | None:
        return find_line(self.text, tuple(table), key)

    def fail(self, table: Sequence[str | int], key: str | None, message: str) -> StudyError:
        line = self.line(table, key)
        dotted = _dotted(table, key)
        where = f"{self.path.name}:{line}" if line is not None else self.path.name
        return StudyError(f"{where}: {dotted}: {message}", key=dotted, line=line)

    def check_table(self, schema: str, table: Sequence[str | int], value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(table[:-1], str(table[-1]), f"must be a table ([{_dotted(table, None)}]); got {_got(value)}.")
        keys = _SCHEMA[schema]
        for key, item in value.items():
            if key not in keys:
                close = difflib.get_close_matches(key, list(keys), n=2, cutoff=0.6)
                hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise self.fail(table, key, f"unknown key.{hint} The keys of this table are: {', '.join(keys)}.")
            kind, _ = keys[key]
            if not _type_ok(kind, item):
                raise self.fail(table, key, f"must be {kind}; got {_got(item)}.")
        for key in _REQUIRED.get(schema, ()):
            if key not in value:
                raise self.fail(table, None, f"needs the key {key!r} ({keys[key][1]}).")
        return value

    def inside(self, table: Sequence[str | int], key: str, value: str) -> Path:
        """A path of the study file, resolved inside the study folder."""
        given = Path(value)
        resolved = (self.folder / given).resolve()
        try:
            resolved.relative_to(self.folder)
        except ValueError:
            raise self.fail(
                table, key,
                f"{value!r} is outside the study folder; a study reads only files in its own folder. "
                "Put the file in the folder (or a subfolder) and give its path relative to the study file.",
            ) from None
        return resolved

    def choice(self, table: Sequence[str | int], key: str, value: str, allowed: Sequence[str]) -> str:
        if value not in allowed:
            close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise self.fail(table, key, f"{value!r} is not one of {', '.join(map(repr, allowed))}.{hint}")
        return value

    # -- the tables
    def study(self, doc: dict[str, Any]) -> Study:
        self.check_table("", (), doc)
        meta = self.check_table("study", ("study",), doc["study"])
        language = self.choice(("study",), "language", meta.get("language", "en"), LANGUAGES)
        registered = self.inside(("study",), "registered_plan", meta["registered_plan"]) if "registered_plan" in meta else None
        design = self.check_table("design", ("design",), doc["design"])
        log = None
        if "log" in design:
            spec = self.check_table("design.log", ("design", "log"), design["log"])
            pin = spec.get("pin")
            if pin is not None and not re.fullmatch(r"\d+:[0-9a-f]{64}", pin):
                raise self.fail(("design", "log"), "pin", f"{pin!r} must look like '12:<64 hex digits>', as printed by `effekt log-head`.")
            log = LogSpec(self.inside(("design", "log"), "path", spec["path"]), pin, spec.get("arm", "treatment"))
        sims = design.get("sims", 1000)
        if sims < 1:
            raise self.fail(("design",), "sims", f"must be at least 1; got {sims}.")
        arm_names = design.get("arm_names", {})
        for role, name in arm_names.items():
            if role not in ("control", "treated") or not isinstance(name, str):
                raise self.fail(("design", "arm_names"), role, "arm_names maps control and treated to text, "
                                "e.g. { control = \"usual practice\", treated = \"programme\" }.")
        data = self.data(self.check_table("data", ("data",), doc["data"]))
        outcomes = doc["outcomes"]
        if not isinstance(outcomes, list) or not outcomes or not all(isinstance(o, dict) for o in outcomes):
            raise self.fail((), "outcomes", "must be one or more [[outcomes]] tables.")
        analyses = tuple(self.analysis(i, o, design) for i, o in enumerate(outcomes))
        seen: dict[str, int] = {}
        for a in analyses:
            if a.key in seen:
                raise self.fail(("outcomes", a.index), "estimator",
                                f"outcome {a.name!r} is analysed by {a.estimator!r} twice (also in outcome {seen[a.key] + 1}); "
                                "give the second analysis another estimator or remove it.")
            seen[a.key] = a.index
        method, alpha = "holm", 0.05
        if "multiplicity" in doc:
            mult = self.check_table("multiplicity", ("multiplicity",), doc["multiplicity"])
            method = self.choice(("multiplicity",), "method", mult.get("method", "holm"), ("holm", "hochberg", "bonferroni", "bh", "by"))
            alpha = float(mult.get("alpha", 0.05))
            if not 0 < alpha < 1:
                raise self.fail(("multiplicity",), "alpha", f"must be in (0, 1); got {alpha}.")
        power = self.power(self.check_table("power", ("power",), doc["power"])) if "power" in doc else None
        metadata = {k: (", ".join(v) if isinstance(v, list) else v) for k, v in meta.items()
                    if k in ("authors", "registration", "description")}
        return Study(
            path=self.path, text=self.text, title=meta["title"], metadata=metadata, language=language,
            treatment=design["treatment"], id=design.get("id"), blocks=design.get("blocks"),
            balance=tuple(design.get("balance", ())), categorical=tuple(design.get("categorical", ())),
            seed=int(design.get("seed", 0)), sims=int(sims), randomisation=design.get("randomisation"),
            log=log, data=data, analyses=analyses, method=method, alpha=alpha, power=power,
            registered_plan=registered, arm_names=dict(arm_names),
        )

    def data(self, spec: dict[str, Any]) -> DataSource:
        t = ("data",)
        path = self.inside(t, "path", spec["path"]) if "path" in spec else None
        fmt = spec.get("format")
        if fmt is None:
            if "url" in spec or "url_env" in spec:
                fmt = "sql"
            elif "path" in spec:
                suffix = Path(spec["path"]).suffix.lower()
                fmt = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
                       ".duckdb": "duckdb", ".db": "duckdb"}.get(suffix)
                if fmt is None:
                    raise self.fail(t, "path", f"cannot tell the format of {spec['path']!r} from its suffix; add format = "
                                    "'csv', 'parquet' or 'duckdb'.")
            else:
                raise self.fail(t, None, "needs path = (a file in the study folder) or url = (a database).")
        fmt = self.choice(t, "format", fmt, FORMATS)
        csv_keys = ("sep", "decimal", "encoding", "thousands")
        if fmt != "csv":
            for key in csv_keys:
                if key in spec:
                    raise self.fail(t, key, f"is a CSV option; the data are {fmt}.")
        if fmt in ("csv", "parquet"):
            for key in ("table", "query", "url", "url_env"):
                if key in spec:
                    raise self.fail(t, key, f"is a database option; the data are a {fmt} file.")
        if fmt in ("csv", "parquet", "duckdb") and "path" not in spec:
            raise self.fail(t, None, f"{fmt} data need path = (a file in the study folder).")
        if fmt == "sql":
            if "path" in spec:
                raise self.fail(t, "path", "SQL data are named by url = (e.g. 'sqlite:///trial.sqlite'), not path.")
            if ("url" in spec) == ("url_env" in spec):
                raise self.fail(t, "url", "give url = (a SQLAlchemy URL) or url_env = (the variable holding it), one of them.")
        if fmt in ("duckdb", "sql") and ("table" in spec) == ("query" in spec):
            raise self.fail(t, "table", "give table = (a table name) or query = (a SELECT statement), one of them.")
        if "table" in spec and not _IDENT.match(spec["table"]):
            raise self.fail(t, "table", f"{spec['table']!r} is not a table name (letters, digits and _, optionally schema.table).")
        if "query" in spec and not re.match(r"^\s*(select|with)\b", spec["query"], re.IGNORECASE):
            raise self.fail(t, "query", "must be a SELECT (or WITH ... SELECT) statement: a study only reads data.")
        for key in csv_keys:
            if key in spec and spec[key] == "":
                raise self.fail(t, key, "must not be empty.")
        url = spec.get("url")
        if url is not None and url.startswith("sqlite:///"):
            url = "sqlite:///" + str(self.inside(t, "url", url[len("sqlite:///"):]))
        return DataSource(
            format=fmt, path=path,
            sep=spec.get("sep"), decimal=spec.get("decimal"), encoding=spec.get("encoding"),
            thousands=spec.get("thousands"), table=spec.get("table"), query=spec.get("query"),
            url=url, url_env=spec.get("url_env"),
        )

    def power(self, spec: dict[str, Any]) -> PowerSpec:
        from effekt import registry
        from effekt.vocabulary import validate_options

        t = ("power",)
        try:
            cls = registry.get_power_calculator(spec["calculator"])
        except EffektError as exc:
            raise self.fail(t, "calculator", " ".join(str(exc).split())) from None
        inputs = dict(spec.get("inputs", {}))
        try:
            validate_options(cls, inputs, cls.solve)
        except EffektError as exc:
            message = " ".join(str(exc).split())
            bad = next((k for k in inputs if repr(k) in message or f"{k}=" in message), None)
            raise self.fail((*t, "inputs") if bad else t, bad or "inputs", message) from None
        planned = spec.get("planned_n")
        if planned is not None and planned < 1:
            raise self.fail(t, "planned_n", f"must be at least 1; got {planned}.")
        return PowerSpec(spec["calculator"], inputs, planned, spec.get("label"))

    def analysis(self, i: int, raw: dict[str, Any], design: dict[str, Any]) -> Analysis:
        t: tuple[str | int, ...] = ("outcomes", i)
        o = self.check_table("outcomes", t, raw)
        role = self.choice(t, "role", o["role"], ROLES)
        kind = self.choice(t, "type", o["type"], TYPES)
        alternative = self.choice(t, "alternative", o.get("alternative", "two-sided"), ALTERNATIVES)
        if kind == "time_to_event":
            for key in ("time", "event"):
                if key not in o:
                    raise self.fail(t, None, f"a time_to_event outcome needs {key} = (the {key} column).")
            if "column" in o:
                raise self.fail(t, "column", "a time_to_event outcome is given by time = and event =, not column =.")
        else:
            for key in ("time", "event", "causes", "cause"):
                if key in o:
                    raise self.fail(t, key, f"is for time_to_event outcomes; this outcome is {kind}.")
        causes: dict[str, str] = {}
        for code, name in o.get("causes", {}).items():
            if not code.isdigit() or int(code) < 1 or not isinstance(name, str):
                raise self.fail((*t, "causes"), code, "causes map a cause code 1, 2, ... to its name, e.g. 1 = \"job\".")
            causes[code] = name
        if "cause" in o and causes and str(o["cause"]) not in causes:
            raise self.fail(t, "cause", f"{o['cause']} is not one of the causes {', '.join(causes)}.")
        analysis = Analysis(
            index=i, name=o["name"], role=role, type=kind, estimator=o["estimator"], label=o.get("label"),
            column=o.get("column"), time=o.get("time"), event=o.get("event"), causes=causes, cause=o.get("cause"),
            horizon=o.get("horizon"), covariates=tuple(o.get("covariates", ())), alternative=alternative,
            family=o.get("family", role), options=dict(o.get("options", {})),
        )
        self.check_estimator(analysis, design)
        return analysis

    def check_estimator(self, a: Analysis, design: dict[str, Any]) -> None:
        from effekt import registry
        from effekt.vocabulary import signature_options, validate_options

        t: tuple[str | int, ...] = ("outcomes", a.index)
        try:
            cls = registry.get_estimator(a.estimator)
        except EffektError as exc:
            raise self.fail(t, "estimator", " ".join(str(exc).split())) from None
        takes = signature_options(cls.fit)
        for key in a.options:
            if key in _FROM_PLAN:
                raise self.fail((*t, "options"), key, f"is set by the plan ({_FROM_PLAN[key]}); remove it from options.")
        spec = plan_spec(a, design.get("treatment", "z"), takes)
        for key, value in (("horizon", a.horizon), ("cause", a.cause)):
            if value is not None and key not in takes:
                raise self.fail(t, key, f"{a.estimator} takes no {key}=; remove it or choose an estimator that does.")
        if a.covariates and "covariates" not in takes:
            raise self.fail(t, "covariates", f"{a.estimator} takes no covariates; remove them or use e.g. lm_robust or lin.")
        try:
            validate_options(cls, spec)
        except EffektError as exc:
            message = " ".join(str(exc).split())
            bad = next((k for k in a.options if repr(k) in message or f"{k}=" in message), None)
            if bad is not None:
                raise self.fail((*t, "options"), bad, message) from None
            raise self.fail(t, "estimator", message) from None


#: what the plan supplies to every estimator (not to be repeated in options)
_FROM_PLAN = {
    "outcome": "the outcome's column", "treatment": "[design] treatment", "time": "time =", "event": "event =",
    "covariates": "covariates =", "horizon": "horizon =", "cause": "cause =", "alternative": "alternative =",
}


def plan_spec(a: Analysis, treatment: str, takes: Mapping[str, inspect.Parameter]) -> dict[str, Any]:
    """The keyword arguments the plan gives the estimator of ``a``."""
    spec: dict[str, Any] = {"treatment": treatment}
    if a.type == "time_to_event":
        spec.update(time=a.time, event=a.event)
    else:
        spec["outcome"] = a.column or a.name
    if a.covariates:
        spec["covariates"] = list(a.covariates)
    if a.horizon is not None and "horizon" in takes:
        spec["horizon"] = a.horizon
    if a.cause is not None and "cause" in takes:
        spec["cause"] = a.cause
    if a.alternative != "two-sided" and "alternative" in takes:
        spec["alternative"] = a.alternative
    spec.update(a.options)
    return spec


def _dotted(table: Sequence[str | int], key: str | None) -> str:
    out = ""
    for part in table:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else part)
    if key is not None:
        out = f"{out}.{key}" if out else key
    return out or "(top level)"
