"""Machine information and the Markdown report."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from .fused import TARGETS as FUSED_TARGETS
from .results import ProblemResult, Row, Settings
from .timing import UNIT_LABELS, UNITS, Timing, pick_unit

__all__ = ["machine_info", "load_average", "render"]

PACKAGES = ("numpy", "sympy", "jax", "jaxlib", "torch", "autograd", "threadpoolctl", "numba",
            "llvmlite")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PEER_COLUMNS = (("peer:jax", "JAX"), ("peer:torch", "PyTorch"), ("peer:autograd", "autograd"),
                ("peer:sympy", "SymPy"))


# -- machine information -------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cores() -> str:
    total = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        return f"{total} logical"
    return f"{total} logical, {usable} usable by this process"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _blas() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:                   # older NumPy: no dict mode
        return "unknown"


def _thread_pools() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    pools = [f"{p.get('internal_api')} {p.get('num_threads')} thread(s)"
             for p in threadpool_info()]
    return ", ".join(pools) or "none loaded"


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "no commit yet"


def load_average() -> str:
    """The 1-minute load average, or "unknown" where the OS does not report it."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "unknown"


def machine_info(root: Path, symdiff_module: Any, symdiff_error: str,
                 load_at_start: str = "unknown") -> list[tuple[str, str]]:
    """(label, value) pairs describing the machine and the software measured."""
    if symdiff_module is not None:
        symdiff = (f"{getattr(symdiff_module, '__version__', '?')} from "
                   f"{Path(symdiff_module.__file__).parent}")
    else:
        symdiff = symdiff_error
    rows = [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", _cpu_model()),
        ("cores", _cores()),
        ("load average (1 min), start / end", f"{load_at_start} / {load_average()}"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("BLAS", _blas()),
        ("thread pools", _thread_pools()),
        ("thread variables", ", ".join(f"{v}={os.environ.get(v, 'unset')}"
                                       for v in THREAD_VARIABLES)),
        ("symdiff", symdiff),
        ("repository commit", _git_commit(root)),
    ]
    return rows + [(p, _version(p)) for p in PACKAGES]


# -- formatting ----------------------------------------------------------------------------
def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time(seconds: float, unit: str) -> str:
    value = seconds / UNITS[unit]
    digits = f"{value:.3g}" if value < 1000 else f"{value:,.0f}"
    return f"{digits} {UNIT_LABELS[unit]}"


def _ratio(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×"


def _spread(t: Timing) -> str:
    return f"{100 * t.iqr / t.median:.0f}%" if t.median > 0 and t.repeats > 1 else ""


def _short_status(row: Row | None) -> str:
    if row is None:
        return "—"
    status = row.status
    for prefix, short in (("error", "error"), ("disagrees", "disagrees"),
                          ("did not finish", "did not finish"),
                          ("not installed", "not installed")):
        if status.startswith(prefix):
            return short
    return _cell(status, 40)


def _unit(result: ProblemResult) -> str:
    if result.problem.unit:
        return result.problem.unit
    reference = result.seconds("hand") or result.seconds("forward") or 1e-3
    return pick_unit(reference)


# -- sections ------------------------------------------------------------------------------
def _header(settings: Settings, command: str) -> list[str]:
    return [
        "# symdiff gradient benchmarks",
        "",
        f"Generated by `{command}`. Each time is the median over {settings.repeats} "
        f"repetitions, each repetition a loop autoranged to at least {settings.min_time:g} s "
        "(timeit-style, garbage collector off), the repetitions of a problem's "
        "implementations interleaved round by round; IQR is the interquartile range as a "
        "percentage of the median. \"× hand\" and \"× forward\" compare with the "
        "hand-written NumPy derivative and the NumPy forward pass: the median over rounds of "
        "the per-round ratio, which cancels load that drifts between rounds. Every "
        "implementation is first checked against the hand-written derivative "
        f"(max |got - want| ≤ {settings.rtol:g} · max |want|); a disagreement is reported "
        "instead of a time. BLAS, PyTorch and XLA are pinned to one thread. symdiff's "
        f"modules are compiled with dims={settings.dims!r} ('auto': one module for every "
        "size, sizes bound from the arguments; 'fixed': one module per shape).",
        "",
    ]


def _machine_section(info: list[tuple[str, str]]) -> list[str]:
    lines = ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(v, 200)} |" for k, v in info]
    return lines + [""]


def _fits(value: float | None, target: float | None) -> bool | None:
    """None when there is no target; False when there is no value to hold to it."""
    if target is None:
        return None
    return value is not None and value <= target


def _target(value: float | None, target: float | None, unit: str) -> str:
    return f"≤ {target:g}{unit}" if target is not None else "—"


def _summary_row(r: ProblemResult) -> str:
    p = r.problem
    raw, compile_s = r.first("symdiff"), r.seconds("compile")
    vs_hand, vs_forward = r.ratio(raw, "hand"), r.ratio(raw, "forward")
    fits = [_fits(vs_hand, p.target_vs_hand), _fits(vs_forward, p.target_vs_forward),
            _fits(compile_s, p.target_compile)]
    if raw is None or raw.timing is None:
        failed = raw or r.first("compile")
        verdict = _short_status(failed) if failed else "no result"
    else:
        verdict = "meets" if all(f is not False for f in fits) else "misses"
    compiled = f"{compile_s:.3g} s" if compile_s is not None else _short_status(r.first("compile"))
    module = f"{r.module_lines:,} lines, {r.module_bytes:,} B" if r.module_lines else ""
    cells = [p.name, _ratio(vs_hand), _target(vs_hand, p.target_vs_hand, "×"),
             _ratio(vs_forward), _target(vs_forward, p.target_vs_forward, "×"), compiled,
             _target(compile_s, p.target_compile, " s"), module, verdict]
    return "| " + " | ".join(cells) + " |"


def _summary_section(results: list[ProblemResult]) -> list[str]:
    lines = ["## symdiff against its targets", "",
             "The raw generated derivative (`compiled.grad`); compile = trace to loaded "
             "module (median). Targets are goals to track, not assertions.", "",
             "| problem | ÷ hand | target | ÷ forward | target | compile | target | module "
             "| verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    return lines + [_summary_row(r) for r in results] + [""]


def _overview_section(results: list[ProblemResult]) -> list[str]:
    columns = [("hand", "hand-written"), ("symdiff", "symdiff raw"),
               ("symdiff-wrapper", "symdiff wrapper")] + list(PEER_COLUMNS)
    lines = ["## Overview: derivative time (× hand-written)", "",
             "| problem | " + " | ".join(title for _, title in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for r in results:
        unit = _unit(r)
        cells = []
        for kind, _ in columns:
            row = r.first(kind)
            if row is not None and row.timing is not None:
                ratio = f" ({_ratio(r.ratio(row, 'hand'))})" if kind != "hand" else ""
                cells.append(_time(row.timing.median, unit) + ratio)
            else:
                cells.append(_short_status(row))
        lines.append(f"| {r.problem.name} | " + " | ".join(cells) + " |")
    return lines + [""]


def _fused_row(r: ProblemResult) -> str:
    numba, unit = r.first("numba"), _unit(r)
    if numba is None or numba.timing is None:
        return f"| {r.problem.name} | {_short_status(numba)} |" + " |" * 10
    vs_numpy, vs_jax = r.ratio(numba, "symdiff"), r.ratio(numba, "peer:jax")
    vs_copy = r.ratio(numba, "copy")
    numpy_target, jax_target = FUSED_TARGETS.get(r.problem.name, (None, None))
    fits = [_fits(vs_numpy, numpy_target), _fits(vs_jax, jax_target)]
    verdict = "—" if fits == [None, None] else \
        "meets" if all(f is not False for f in fits) else "misses"
    first, second = r.fused_compile or (None, None)
    parallel = r.first("numba-parallel")
    parallel = f"{_ratio(r.ratio(parallel, 'peer:jax'))}" if parallel and parallel.timing \
        else _short_status(parallel) if parallel else ""
    cells = [r.problem.name, _time(numba.timing.median, unit), _ratio(vs_numpy),
             _target(vs_numpy, numpy_target, "×"), _ratio(vs_jax),
             _target(vs_jax, jax_target, "×"), _ratio(vs_copy),
             f"{first:.3g} s" if first is not None else "",
             f"{second:.3g} s" if second is not None else "", verdict, parallel]
    return "| " + " | ".join(cells) + " |"


def _fused_section(results: list[ProblemResult]) -> list[str]:
    if not any(r.first("numba") for r in results):
        return []
    lines = ["## symdiff's numba backend", "",
             "`symdiff.grad(f, backend=\"numba\")`: runs of elementwise statements, sums and "
             "slice updates fused into `@njit` loops (one thread, no `parallel=True`). Ratios "
             "are medians of per-round ratios in the same interleaved run: ÷ NumPy module is "
             "against symdiff's default (NumPy) generated derivative, ÷ copy bound against "
             "`np.copy` of every array argument. First call = trace, emit, load and numba's "
             "compilation (fresh cache directory); second process = the same first call in a "
             "new process, which loads the kernels numba cached. The last column is the "
             "`numba-parallel` variant (prange, every core numba uses) ÷ JAX on one thread: "
             "not a like-for-like comparison, shown apart.", "",
             "| problem | numba | ÷ NumPy module | target | ÷ JAX jit(grad) | target | "
             "÷ copy bound | first call | second process | verdict | parallel ÷ JAX |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    return lines + [_fused_row(r) for r in results] + [""]


def _problem_section(r: ProblemResult) -> list[str]:
    p, unit = r.problem, _unit(r)
    lines = [f"## {p.name}: {p.title}", "", f"Sizes: {r.sizes}. Derivative w.r.t. argnums "
             f"{p.argnums}.", ""]
    lines += [f"Note: {n}" for n in p.notes] + ([""] if p.notes else [])
    lines += ["| implementation | time | IQR | × hand | × forward | notes |",
              "|---|---|---|---|---|---|"]
    for row in r.rows:
        if row.timing is None:
            lines.append(f"| {row.label} | {_cell(row.status)} | | | | {_cell(row.note)} |")
            continue
        t = row.timing
        if row.kind == "compile":
            lines.append(f"| {row.label} | {t.median:.3g} s | {_spread(t)} | | | "
                         f"{_cell(row.note)} |")
            continue
        to_hand = _ratio(r.ratio(row, "hand")) if row.kind not in ("hand", "forward") else ""
        to_fwd = _ratio(r.ratio(row, "forward")) if row.kind != "forward" else ""
        lines.append(f"| {row.label} | {_time(t.median, unit)} | {_spread(t)} | {to_hand} | "
                     f"{to_fwd} | {_cell(row.note)} |")
    return lines + [""]


def _depth_section(points) -> list[str]:
    lines = ["## P6: symdiff compile time and module size against depth", "",
             "Each depth compiles in a fresh process after a warm-up compile; target: linear "
             "in depth, depth 1000 under 30 s.", "",
             "| depth | compile | per step | module bytes | module lines | status |",
             "|---|---|---|---|---|---|"]
    for pt in points:
        if pt.seconds is None:
            lines.append(f"| {pt.depth} | | | | | {_cell(pt.status)} |")
            continue
        lines.append(f"| {pt.depth} | {pt.seconds:.3g} s | {1e3 * pt.seconds / pt.depth:.3g} ms "
                     f"| {pt.module_bytes:,} | {pt.module_lines:,} | ok |")
    return lines + [""]


def render(results: list[ProblemResult], info: list[tuple[str, str]], settings: Settings,
           command: str) -> str:
    """The whole report as Markdown."""
    lines = _header(settings, command) + _machine_section(info)
    lines += _summary_section(results) + _overview_section(results) + _fused_section(results)
    for r in results:
        lines += _problem_section(r)
        if r.depth_scan:
            lines += _depth_section(r.depth_scan)
    return "\n".join(lines).rstrip() + "\n"
