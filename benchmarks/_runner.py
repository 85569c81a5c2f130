"""The benchmark runner: every ``CASES`` entry of ``benchmarks/bench_*.py``, checked, then timed.

For each case and size, in one process: ``setup`` once; effekt and every
peer called once and each peer's ``check`` run (a disagreement stops that
case, and the run exits non-zero at the end); then effekt and the peers
timed taking turns (effekt, peer 1, peer 2, effekt, ...) for ``repeat``
rounds, the best (or median) round kept. BLAS thread pools are pinned with
threadpoolctl for checks and timing (``--threads``, default 1). A case with
``fresh_process=True`` runs each timed call in a child process
(``python -m benchmarks --_child ...``) that reports its own time and peak
resident set size.

The results go to a tidy CSV (one row per case x size x tool; a run of
some cases replaces their rows and keeps the others), to one markdown table
per group between ``<!-- runner:GROUP -->`` markers in
``benchmarks/README.md``, and to a plot of time against size.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks.cases import Case, Measured, Peer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

COLUMNS = (
    "group", "case", "title", "size", "unit", "tool", "role", "seconds", "rounds", "summary",
    "peak_rss_mb", "scale", "ratio", "target", "met", "target_seconds", "checked", "timestamp",
    "load_average", "machine", "python", "numpy", "scipy", "pandas", "effekt", "package", "tool_version",
    "threads", "notes",
)


class SelectionError(ValueError):
    """``--only`` named no case."""


class CheckFailed(RuntimeError):
    """effekt and a peer disagree, or a tool failed, at a size of a case."""


# ---------------------------------------------------------------------------------------- discovery


def discover(directory: Path | str | None = None) -> list[Case]:
    """The ``CASES`` of every ``bench_*.py`` in ``directory`` (the benchmarks package by default),
    in file order. A module without ``CASES`` contributes nothing."""
    directory = HERE if directory is None else Path(directory).resolve()
    cases: list[Case] = []
    for path in sorted(directory.glob("bench_*.py")):
        if directory == HERE:
            module = importlib.import_module(f"benchmarks.{path.stem}")
        else:
            name = f"_effekt_bench_cases_{abs(hash(str(directory)))}_{path.stem}"
            module = sys.modules.get(name)  # type: ignore[assignment]
            if module is None:
                spec = importlib.util.spec_from_file_location(name, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
        cases.extend(getattr(module, "CASES", ()))
    seen: set[str] = set()
    for case in cases:
        if case.name in seen:
            raise SelectionError(f"two cases are named {case.name!r}")
        seen.add(case.name)
    return cases


def select(cases: Sequence[Case], only: Sequence[str] | None) -> list[Case]:
    """The cases named by ``only`` (a group or ``group.case`` each), in their order; all of them
    when ``only`` is empty. A name that matches nothing raises SelectionError listing the valid ones."""
    if not only:
        return list(cases)
    groups = {c.group for c in cases}
    names = {c.name for c in cases}
    bad = [o for o in only if o not in groups and o not in names]
    if bad:
        valid = sorted(groups) + sorted(names)
        raise SelectionError(f"no benchmark named {', '.join(map(repr, bad))}; valid: {', '.join(valid)}")
    return [c for c in cases if c.group in only or c.name in only]


# ---------------------------------------------------------------------------------------- one call


def call(fn: Callable[[Any], Any], data: Any, number: int = 1) -> tuple[float, Any]:
    """Wall time of ``fn(data)`` (per call, over ``number`` calls) and its value; a tool that returns
    ``Measured`` gives its own time."""
    start = time.perf_counter()
    out = None
    for _ in range(number):
        out = fn(data)
    elapsed = (time.perf_counter() - start) / number
    if isinstance(out, Measured):
        return out.seconds, out.value
    return elapsed, out


def tools(case: Case, size: int) -> list[tuple[str, Callable[[Any], Any], Peer | None]]:
    """effekt and the peers that run at ``size``."""
    out: list[tuple[str, Callable[[Any], Any], Peer | None]] = [("effekt", case.effekt, None)]
    out += [(p.name, p.run, p) for p in case.peers if p.max_size is None or size <= p.max_size]
    return out


def check_case(case: Case, size: int, data: Any, first: dict[str, float] | None = None) -> dict[str, bool]:
    """Call effekt and every peer once on ``data`` and run the checks; which peers were checked (and, in
    ``first``, each call's time). Raises CheckFailed naming the case, size and peer."""
    first = {} if first is None else first
    where = f"{case.name} at {size:,} {case.unit}"
    try:
        _, ours = call(case.effekt, data)
    except Exception as exc:
        raise CheckFailed(f"{where}: effekt raised {type(exc).__name__}: {exc}") from exc
    checked: dict[str, bool] = {}
    for name, run, peer in tools(case, size)[1:]:
        assert peer is not None
        try:
            first[name], theirs = call(run, data)
        except Exception as exc:
            raise CheckFailed(f"{where}: peer {name} raised {type(exc).__name__}: {exc}") from exc
        if peer.check is None:
            checked[name] = False
            continue
        try:
            peer.check(data, ours, theirs)
        except AssertionError as exc:
            raise CheckFailed(f"{where}: effekt and {name} disagree: {exc or 'assertion failed'}") from exc
        except Exception as exc:
            raise CheckFailed(f"{where}: the check against {name} raised {type(exc).__name__}: {exc}") from exc
        checked[name] = True
    return checked


# ---------------------------------------------------------------------------------------- timing


def _pinned(threads: int) -> Any:
    """A context that pins BLAS/OpenMP pools to ``threads`` (0: leave them alone)."""
    from contextlib import nullcontext

    if threads <= 0:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def _summarise(times: list[float], how: str) -> float:
    return min(times) if how == "min" else float(statistics.median(times))


def time_in_process(case: Case, size: int, data: Any,
                    first: dict[str, float] | None = None) -> dict[str, tuple[float, int, float | None]]:
    """Tool -> (seconds, rounds, peak RSS MB or None), taking turns round by round. A peer with
    ``repeat=0`` is not called again: its time is that of its checked call (``first``), rounds 0."""
    runs = tools(case, size)
    times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    first = first or {}
    for name, _, peer in runs:
        if peer is not None and peer.repeat == 0 and name in first:
            times[name].append(first[name])
    for r in range(max(1, case.repeat)):
        for name, fn, peer in runs:
            if peer is not None and peer.repeat is not None and r >= peer.repeat:
                continue
            times[name].append(call(fn, data, case.number)[0])
    return {k: (_summarise(v, case.summary), 0 if k in first and not _timed_again(case, k) else len(v), None)
            for k, v in times.items()}


def _timed_again(case: Case, name: str) -> bool:
    return not any(p.name == name and p.repeat == 0 for p in case.peers)


def child_command(case: Case, size: int, tool: str, threads: int, cases_dir: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "benchmarks", "--_child", case.name, "--size", str(size), "--tool", tool,
           "--threads", str(threads)]
    if cases_dir is not None:
        cmd += ["--cases-dir", str(cases_dir)]
    return cmd


def time_in_children(case: Case, size: int, threads: int,
                     cases_dir: Path | None) -> dict[str, tuple[float, int, float | None]]:
    """As time_in_process, each call in its own child process (which reports its peak RSS)."""
    runs = tools(case, size)
    times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    peaks: dict[str, float] = {}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for r in range(max(1, case.repeat)):
        for name, _, peer in runs:
            if peer is not None and peer.repeat is not None and r >= peer.repeat:
                continue
            done = subprocess.run(child_command(case, size, name, threads, cases_dir), capture_output=True,
                                  text=True, cwd=ROOT, env=env)
            if done.returncode != 0:
                tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise CheckFailed(f"{case.name} at {size:,} {case.unit}: the child process timing {name} "
                                  f"exited with {done.returncode}: {tail}")
            report = json.loads(done.stdout.strip().splitlines()[-1])
            times[name].append(float(report["seconds"]))
            peaks[name] = max(peaks.get(name, 0.0), float(report["peak_rss_mb"]))
    return {k: (_summarise(v, case.summary), len(v), peaks.get(k)) for k, v in times.items()}


def child_main(name: str, size: int, tool: str, threads: int, cases_dir: Path | None) -> int:
    """In a child process: set the case up, time one call of one tool, print JSON."""
    import resource

    case = next(c for c in discover(cases_dir) if c.name == name)
    fn = dict((n, f) for n, f, _ in tools(case, size))[tool]
    data = case.setup(size)
    with _pinned(threads):
        seconds, _ = call(fn, data, case.number)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(resource)}))
    return 0


def peak_rss_mb(resource: Any) -> float:
    """This process's peak resident set size. Linux's ``ru_maxrss`` carries the forking parent's peak
    across ``exec``, so the high-water mark of the process's own memory (``VmHWM``) is read first."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024  # KiB on Linux


# ---------------------------------------------------------------------------------------- context


def _version(dist: str) -> str:
    if not dist:
        return ""
    try:
        return version(dist)
    except PackageNotFoundError:
        return ""


def machine() -> str:
    ram = ""
    try:
        pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        ram = f", {pages * page / 2**30:.0f} GB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores{ram}, {platform.system()} {platform.machine()}"


def context(threads: int) -> dict[str, str]:
    return {
        "machine": machine(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "pandas": _version("pandas"),
        "effekt": _version("effekt"),
        "threads": str(threads) if threads > 0 else "unpinned",
    }


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return ""


def _num(x: float | None, digits: int = 6) -> str:
    return "" if x is None else f"{x:.{digits}g}"


def rows_for(case: Case, size: int, timed: dict[str, tuple[float, int, float | None]],
             checked: dict[str, bool], ctx: dict[str, str], stamp: str, load: str) -> list[dict[str, str]]:
    base = dict(ctx, group=case.group, case=case.name, title=case.title, size=str(size), unit=case.unit,
                summary=case.summary, timestamp=stamp, load_average=load, notes=case.notes)
    e_sec, e_rounds, e_peak = timed["effekt"]
    met_time = "" if case.max_seconds is None else ("yes" if e_sec <= case.max_seconds else "no")
    out = [dict(base, tool="effekt", role="effekt", seconds=_num(e_sec), rounds=str(e_rounds),
                peak_rss_mb=_num(e_peak, 5), scale="", ratio="", target="", met=met_time,
                target_seconds=_num(case.max_seconds), checked="", package="effekt", tool_version=ctx["effekt"])]
    for peer in case.peers:
        if peer.name not in timed:
            continue
        sec, rounds, peak = timed[peer.name]
        scale = peer.scale_at(size)
        ratio = e_sec / (sec * scale) if sec > 0 else float("nan")
        met = "" if peer.target is None else ("yes" if ratio <= peer.target else "no")
        out.append(dict(base, tool=peer.name, role="peer", seconds=_num(sec), rounds=str(rounds),
                        peak_rss_mb=_num(peak, 5), scale=_num(scale) if scale != 1 else "", ratio=_num(ratio, 4),
                        target=_num(peer.target), met=met, target_seconds="",
                        checked="yes" if checked.get(peer.name) else "no", package=peer.package,
                        tool_version=_version(peer.package)))
    return out


# ---------------------------------------------------------------------------------------- CSV


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def merge_rows(old: Iterable[dict[str, str]], new: Sequence[dict[str, str]], ran: Iterable[str],
               known: Iterable[str] | None = None) -> list[dict[str, str]]:
    """``old`` without the rows of the cases in ``ran`` (and, when ``known`` is given, of cases that
    no longer exist), then ``new``."""
    ran = set(ran)
    known_set = None if known is None else set(known)
    kept = [r for r in old if r.get("case") not in ran and (known_set is None or r.get("case") in known_set)]
    return kept + list(new)


def write_csv(path: Path, rows: Sequence[dict[str, str]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in COLUMNS})


# ---------------------------------------------------------------------------------------- markdown


def _seconds(text: str) -> str:
    if not text:
        return ""
    x = float(text)
    return f"{x:,.0f}" if x >= 100 else f"{x:#.3g}"


def _ratio(text: str) -> str:
    if not text:
        return ""
    x = float(text)
    return f"{x:.3g}x" if x < 100 else f"{x:,.0f}x"


def _size(row: dict[str, str]) -> str:
    return f"{int(row['size']):,} {row['unit']}"


def render_group(rows: Sequence[dict[str, str]]) -> str:
    """The markdown table of one group's rows and the line that says how it was measured."""
    by_case: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_case.setdefault(r["case"], []).append(r)
    lines = ["| case | size | effekt (s) | peer | peer (s) | effekt/peer | target | met |",
             "|---|---|---|---|---|---|---|---|"]
    previous = ""
    for case_rows in by_case.values():
        sizes = sorted({int(r["size"]) for r in case_rows})
        for size in sizes:
            at = [r for r in case_rows if int(r["size"]) == size]
            eff = next((r for r in at if r["role"] == "effekt"), None)
            if eff is None:
                continue
            title = f"{eff['title']} (`{eff['case'].split('.', 1)[1]}`)".replace("|", "\\|")
            e_sec = _seconds(eff["seconds"])
            if eff.get("peak_rss_mb"):
                e_sec += f"; {float(eff['peak_rss_mb']):,.0f} MB peak"
            peers = [r for r in at if r["role"] == "peer"]
            own_goal = ""
            if eff.get("target_seconds"):
                own_goal = f"effekt <= {_seconds(eff['target_seconds'])} s"
            if not peers:
                lines.append(f"| {title} | {_size(eff)} | {e_sec} | (time only) | | | {own_goal} | {eff['met']} |")
            for p in peers:
                p_sec = _seconds(p["seconds"])
                if p.get("scale"):
                    p_sec = f"{_seconds(str(float(p['seconds']) * float(p['scale'])))} (x{float(p['scale']):,.0f} of {p_sec})"
                if p.get("peak_rss_mb"):
                    p_sec += f"; {float(p['peak_rss_mb']):,.0f} MB peak"
                name = p["tool"].replace("|", "\\|")
                if p.get("checked") != "yes":
                    name += " (time only, not compared)"
                if p.get("rounds") == "0":
                    name += " *"
                target = f"<= {float(p['target']):g}x" if p.get("target") else ""
                met = p["met"]
                if own_goal:
                    target = "; ".join(filter(None, [target, own_goal]))
                    met = "; ".join(filter(None, [met, eff["met"]]))
                same = previous == f"{title}|{size}"
                previous = f"{title}|{size}"
                lines.append(f"| {'' if same else title} | {'' if same else _size(p)} | {'' if same else e_sec} | "
                             f"{name} | {p_sec} | {_ratio(p['ratio'])} | {target} | {met} |")
    first = rows[0]
    stamps = sorted(r["timestamp"] for r in rows if r.get("timestamp"))
    loads = [float(r["load_average"]) for r in rows if r.get("load_average")]
    when = stamps[0] if stamps else ""
    if len(stamps) > 1 and stamps[-1][:16] != stamps[0][:16]:
        when = f"{stamps[0]}-{stamps[-1][11:]}" if stamps[-1][:10] == stamps[0][:10] else f"{stamps[0]} to {stamps[-1]}"
    versions = sorted({f"{r.get('package') or r['tool']} {r['tool_version']}" for r in rows
                       if r.get("role") == "peer" and r.get("tool_version")})
    load = ""
    if loads:
        low, high = f"{min(loads):.1f}", f"{max(loads):.1f}"
        load = low if low == high else f"{low}-{high}"
    threads = first.get("threads", "")
    pinned = (f"BLAS/OpenMP pools pinned to {threads} thread{'s' if threads != '1' else ''} (threadpoolctl)"
              if threads not in ("", "unpinned") else "BLAS threads not pinned")
    summary = "median" if all(r.get("summary") == "median" for r in rows) else "best"
    once = any(r.get("rounds") == "0" for r in rows)
    rounds = sorted({int(r["rounds"]) for r in rows if r.get("rounds") and r["rounds"] != "0"} or {1})
    rounds_text = f"{rounds[0]}" if len(rounds) == 1 else f"{rounds[0]}-{rounds[-1]}"
    group = first["group"]
    note = (f"Measured by `python -m benchmarks --only {group}` at {when} UTC on {first.get('machine', '')}; "
            f"Python {first.get('python', '')}, numpy {first.get('numpy', '')}, scipy {first.get('scipy', '')}, "
            f"pandas {first.get('pandas', '')}, effekt {first.get('effekt', '')}"
            + (f"; peers {', '.join(versions)}" if versions else "")
            + f"; load average (1 min, at each "
            f"case) {load}; {pinned}; {summary} of {rounds_text} rounds, effekt and the peers taking turns on the "
            f"same data after every check passed"
            + ("; a peer marked * is timed by its one checked call" if once else "")
            + ". effekt/peer below 1 means effekt is faster.")
    return note + "\n\n" + "\n".join(lines)


def update_readme(text: str, rows: Sequence[dict[str, str]]) -> str:
    """``text`` with the table of every group in ``rows`` put between its markers (a new section at the
    end for a group that has none); everything outside the markers is kept."""
    groups: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    for group, group_rows in groups.items():
        start, end = f"<!-- runner:{group} -->", f"<!-- /runner:{group} -->"
        block = f"{start}\n{render_group(group_rows)}\n{end}"
        i, j = text.find(start), text.find(end)
        if i >= 0 and j > i:
            text = text[:i] + block + text[j + len(end):]
        else:
            text = text.rstrip("\n") + f"\n\n## {group}\n\n{block}\n"
    return text


# ---------------------------------------------------------------------------------------- plot


def plot(rows: Sequence[dict[str, str]], path: Path) -> None:
    """Time against size, log-log, one line per case x tool, a panel per group (no pyplot state); a peer
    run on a sample of the work is drawn at its scaled time."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from effekt.plotting import COLOURS

    groups = sorted({r["group"] for r in rows})
    if not groups:
        return
    ncol = min(3, len(groups))
    nrow = -(-len(groups) // ncol)
    fig = Figure(figsize=(5.2 * ncol, 3.8 * nrow), layout="constrained")
    for k, group in enumerate(groups):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        ax.spines[["top", "right"]].set_visible(False)
        lines: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for r in rows:
            if r["group"] == group and r.get("seconds"):
                scale = float(r["scale"]) if r.get("scale") else 1.0  # a sampled peer: its time for all the work
                lines.setdefault((r["case"].split(".", 1)[1], r["tool"]), []).append(
                    (int(r["size"]), float(r["seconds"]) * scale))
        cases = list(dict.fromkeys(c for c, _ in lines))
        peers_of: dict[str, list[str]] = {}
        for case_name, tool in lines:
            if tool != "effekt":
                peers_of.setdefault(case_name, []).append(tool)
        for (case_name, tool), pts in lines.items():
            pts.sort()
            colour = COLOURS[cases.index(case_name) % len(COLOURS)]
            style = "-" if tool == "effekt" else ("--", ":", "-.")[peers_of[case_name].index(tool) % 3]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", markersize=3, color=colour,
                    label=f"{case_name}: {tool}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(group)
        units = sorted({r["unit"] for r in rows if r["group"] == group})
        ax.set_xlabel(f"size ({', '.join(units)})")
        ax.set_ylabel("seconds")
        ax.grid(True, linewidth=0.5, alpha=0.4)
        ax.legend(fontsize=6, frameon=False)
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    rows: list[dict[str, str]]
    failures: list[str]
    ran: list[str]


def run_cases(cases: Sequence[Case], *, quick: bool, threads: int, cases_dir: Path | None = None,
              log: Callable[[str], None] = print) -> Outcome:
    ctx = context(threads)
    rows: list[dict[str, str]] = []
    failures: list[str] = []
    ran: list[str] = []
    for case in cases:
        sizes = (case.quick_size,) if quick else case.sizes
        case_rows: list[dict[str, str]] = []
        try:
            for size in sizes:
                t0 = time.perf_counter()
                load = load_average()
                with _pinned(threads):
                    data = case.setup(size)
                    first: dict[str, float] = {}
                    checked = check_case(case, size, data, first)
                    if quick:
                        said = ", ".join(f"{k} {'agrees' if v else 'ran (no check)'}" for k, v in checked.items())
                        log(f"ok   {case.name} at {size:,} {case.unit}: {said or 'effekt ran'} "
                            f"({time.perf_counter() - t0:.1f} s)")
                        continue
                    if case.fresh_process:
                        del data
                        timed = time_in_children(case, size, threads, cases_dir)
                    else:
                        timed = time_in_process(case, size, data, first)
                        del data
                stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M")
                new = rows_for(case, size, timed, checked, ctx, stamp, load)
                case_rows += new
                summary = "; ".join(f"{r['tool']} {_seconds(r['seconds'])} s"
                                    + (f" ({_ratio(r['ratio'])})" if r["ratio"] else "") for r in new)
                log(f"done {case.name} at {size:,} {case.unit}: {summary} [load {load}]")
        except CheckFailed as exc:
            failures.append(str(exc))
            log(f"FAIL {exc}")
            continue
        except Exception as exc:  # a broken setup: report it and go on with the other cases
            failures.append(f"{case.name}: {type(exc).__name__}: {exc}")
            log(f"FAIL {case.name}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
            continue
        rows += case_rows
        ran.append(case.name)
    return Outcome(rows, failures, ran)


def main(argv: Sequence[str] | None = None, *, cases_dir: Path | str | None = None,
         csv_path: Path | None = None, readme_path: Path | None = None, plot_path: Path | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="setup at each case's quick_size and the checks only: "
                    "no timing, nothing written")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="groups or group.case names")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads while checking and timing "
                    "(threadpoolctl; 0 leaves them unpinned); default 1")
    ap.add_argument("--no-write", action="store_true", help="time, but write neither CSV, README nor plot")
    ap.add_argument("--render", action="store_true", help="run nothing: redraw the README tables and the plot "
                    "from results.csv")
    ap.add_argument("--cases-dir", help=argparse.SUPPRESS)
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--tool", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cases_dir:
        cases_dir = args.cases_dir
    directory = None if cases_dir is None else Path(cases_dir).resolve()
    if args._child:
        return child_main(args._child, args.size, args.tool, args.threads, directory)
    if args.render:
        rows = read_csv(csv_path or HERE / "results.csv")
        readme_path = readme_path or HERE / "README.md"
        readme_path.write_text(update_readme(readme_path.read_text(), rows))
        plot(rows, plot_path or HERE / "times.png")
        print(f"redrew {readme_path.name} and the plot from {len(rows)} rows")
        return 0
    try:
        cases = select(discover(directory), args.only)
    except SelectionError as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for c in cases:
            peers = ", ".join(p.name for p in c.peers) or "time only"
            sizes = ", ".join(f"{s:,}" for s in c.sizes)
            print(f"{c.name:<36} {c.title} [{peers}; sizes {sizes} {c.unit}; quick {c.quick_size:,}]")
        return 0
    pinned = f"pinned to {args.threads}" if args.threads > 0 else "not pinned"
    print(f"{len(cases)} case(s){' (quick: checks only)' if args.quick else ''}; BLAS/OpenMP threads {pinned} "
          f"(threadpoolctl); {machine()}; load average {load_average()}")
    start = time.perf_counter()
    outcome = run_cases(cases, quick=args.quick, threads=args.threads, cases_dir=directory)
    print(f"{len(outcome.ran)} of {len(cases)} case(s) passed in {time.perf_counter() - start:.1f} s")
    if not args.quick and not args.no_write and outcome.rows:
        csv_path = csv_path or HERE / "results.csv"
        readme_path = readme_path or HERE / "README.md"
        plot_path = plot_path or HERE / "times.png"
        known = None if args.only else [c.name for c in cases]
        rows = merge_rows(read_csv(csv_path), outcome.rows, outcome.ran, known)
        write_csv(csv_path, rows)
        if readme_path.exists():
            readme_path.write_text(update_readme(readme_path.read_text(), rows))
        plot(rows, plot_path)
        print(f"wrote {csv_path.name}, {readme_path.name} and {plot_path.name}")
    if outcome.failures:
        print(f"{len(outcome.failures)} failure(s):", file=sys.stderr)
        for f in outcome.failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0
