"""Conformance: run each scenario's C reproducer on this kernel, compare with the model.

For the running kernel's version (``uname -r``) the era comes from the
version aliases of ``policy.py`` (a version newer than every alias takes the
newest alias at or below it, and the table says so).  Each scenario's program
(``reproduce.py``) is compiled with ``cc -Wall -Werror`` in a temporary
directory (two compilers at a time), run, and its KTAP parsed; the kernel's
outcome (H held, M missed COW, W wrong COW, S skipped with the reason, E
error) is compared with the model's verdict for that era, found by checking
the scenario to exhaustion.  The model's U (correct data, an unnecessary
copy) agrees with the kernel's H: the programs compare data only.

Scenarios that swap need swap space: as root, a temporary swap file under
/tmp is made with mkswap and swapon and removed afterwards (swapoff); as
another user they skip, saying why.

``python -m models.cow.conform [--scenarios A,B] [--iterations N]`` prints
the table and exits 1 on any disagreement (0 otherwise, 2 on bad input).
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mcheck import check

from .catalogue import CATALOGUE, SCENARIOS
from .matrix import classify
from .model import CowModel
from .policy import ALIASES, get_policy
from .reproduce import CommandParser, HelpShown, generate, plan
from .scenario import Scenario

__all__ = ["Outcome", "Row", "kernel_era", "model_verdict", "parse_ktap", "compile_program",
           "run_program", "swap_space", "conform", "format_table", "main", "CC_FLAGS"]

CC_FLAGS = ("-Wall", "-Werror", "-O2", "-pthread")
_OUTCOME = re.compile(r"^# outcome: ([HMWSE])\b ?(.*)$")


@dataclass(frozen=True)
class Outcome:
    """What a program said: the letter, why, its exit status and its KTAP lines."""

    letter: str        # H M W S E
    detail: str
    status: int
    ktap: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    scenario: str
    model: str
    kernel: Outcome

    @property
    def agree(self) -> str:
        """"yes", "no", or "skip" (the kernel could not run it here)."""
        k = self.kernel.letter
        if k == "S":
            return "skip"
        if k == "E":
            return "no"
        m = "H" if self.model == "U" else self.model
        return "yes" if m == k else "no"


def kernel_era(release: str | None = None) -> tuple[str, str]:
    """(policy name, how it was found) for a kernel release such as ``6.18.44-fc``.

    ValueError when the release has no version or is older than every alias.
    """
    release = release if release is not None else platform.release()
    m = re.match(r"(\d+)\.(\d+)", release)
    if not m:
        raise ValueError(f"kernel release {release!r} has no MAJOR.MINOR version; give "
                         "--policy explicitly")
    want = (int(m.group(1)), int(m.group(2)))
    key = f"{want[0]}.{want[1]}"
    if key in ALIASES:
        return get_policy(key).name, f"{release}: alias {key}"
    known = sorted((tuple(int(x) for x in k.split(".")), k) for k in ALIASES
                   if re.fullmatch(r"\d+\.\d+", k))
    below = [k for v, k in known if v <= want]
    if not below:
        raise ValueError(f"kernel {release} is older than every version alias; give --policy")
    return get_policy(below[-1]).name, (f"{release}: no alias for {key}, the newest alias "
                                        f"below it is {below[-1]}")


def model_verdict(s: Scenario, policy: str) -> str:
    """The model's letter for ``s`` under ``policy``, checked to exhaustion."""
    result = check(CowModel(s, get_policy(policy)), stop_at_first=False, deadlock=True)
    return str(classify(result)["letter"])


def parse_ktap(text: str, status: int) -> Outcome:
    """The outcome a program printed, checked for a well-formed KTAP report."""
    lines = tuple(text.splitlines())
    if not lines or lines[0] != "TAP version 13":
        return Outcome("E", "no 'TAP version 13' header", status, lines)
    plan = [ln for ln in lines if re.fullmatch(r"1\.\.\d+", ln)]
    tests = [ln for ln in lines if re.match(r"(not )?ok \d+ ", ln)]
    if len(plan) != 1 or int(plan[0][3:]) != len(tests):
        return Outcome("E", f"plan {plan} but {len(tests)} results", status, lines)
    found = [_OUTCOME.match(ln) for ln in lines]
    outcome = [m for m in found if m]
    if len(outcome) != 1:
        return Outcome("E", "no '# outcome:' line", status, lines)
    letter, detail = outcome[0].group(1), outcome[0].group(2)
    expected_status = {"H": 0, "M": 1, "W": 1, "E": 1, "S": 4}[letter]
    if status != expected_status:
        return Outcome("E", f"outcome {letter} but exit status {status}", status, lines)
    if letter in "MW":
        bad = [ln for ln in tests if ln.startswith("not ok")]
        detail = (detail + "; " + "; ".join(bad)).strip("; ")
    return Outcome(letter, detail, status, lines)


def compile_program(source: str, path: str, cc: str = "cc") -> str:
    """Write ``source`` to ``path``.c and build ``path``; the compiler's errors ("" if none)."""
    with open(path + ".c", "w", encoding="utf-8") as f:
        f.write(source)
    proc = subprocess.run([cc, *CC_FLAGS, "-o", path, path + ".c"], capture_output=True,
                          text=True, check=False)
    return "" if proc.returncode == 0 else (proc.stderr.strip() or f"cc exit {proc.returncode}")


def run_program(path: str, iterations: int | None = None, timeout: float = 300) -> Outcome:
    """Run a built reproducer and parse its KTAP."""
    argv = [path] + ([str(iterations)] if iterations is not None else [])
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return Outcome("E", f"timed out after {timeout:.0f} s", -1)
    return parse_ktap(proc.stdout, proc.returncode)


def _active_swap() -> bool:
    try:
        with open("/proc/swaps", encoding="utf-8") as f:
            return len(f.read().splitlines()) > 1
    except OSError:
        return False


@contextlib.contextmanager
def swap_space(size_mb: int = 64, directory: str = "/tmp") -> Iterator[str]:
    """Swap for the scenarios that swap; yields "" when there is some, else why not.

    As root, a temporary swap file under ``directory`` (mkswap, swapon),
    removed afterwards (swapoff, unlink) whatever happens.
    """
    if _active_swap():
        yield ""
        return
    if os.geteuid() != 0:
        yield "no active swap and not root (a swap file needs swapon)"
        return
    missing = [t for t in ("mkswap", "swapon", "swapoff") if not shutil.which(t)]
    if missing:
        yield f"no active swap and {', '.join(missing)} not found"
        return
    fd, path = tempfile.mkstemp(prefix="mcheck-swap-", dir=directory)
    on = False
    try:
        os.close(fd)
        os.chmod(path, 0o600)
        with open(path, "wb") as f:
            f.write(b"\0" * (size_mb << 20))
        for argv in (["mkswap", path], ["swapon", path]):
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            if proc.returncode:
                yield f"{argv[0]} {path} failed: {proc.stderr.strip() or proc.returncode}"
                return
        on = True
        yield ""
    finally:
        if on:
            subprocess.run(["swapoff", path], capture_output=True, check=False)
        with contextlib.suppress(OSError):
            os.unlink(path)


def conform(scenarios: Sequence[Scenario], policy: str, *, iterations: int | None = None,
            workdir: str | None = None, jobs: int = 2, cc: str = "cc") -> list[Row]:
    """Generate, compile (``jobs`` at a time), run and compare every scenario."""
    if shutil.which(cc) is None:
        raise ValueError(f"no C compiler {cc!r} on PATH; install gcc or give --cc")
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="mcheck-conform-"))
        paths = {s.name: os.path.join(workdir, re.sub(r"[^A-Za-z0-9_-]", "_", s.name))
                 for s in scenarios}
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            errors = dict(zip(paths, pool.map(
                lambda s: compile_program(generate(s, policy), paths[s.name], cc), scenarios),
                strict=True))
        why_no_swap = stack.enter_context(swap_space())
        for s in scenarios:
            verdict = model_verdict(s, policy)
            if errors[s.name]:
                first = errors[s.name].splitlines()[0]
                rows.append(Row(s.name, verdict, Outcome("E", f"cc: {first}", -1)))
                continue
            out = run_program(paths[s.name], iterations if plan(s).races else None)
            if out.letter == "S" and why_no_swap and "swap" in out.detail:
                out = Outcome("S", f"{out.detail} ({why_no_swap})", out.status, out.ktap)
            rows.append(Row(s.name, verdict, out))
    return rows


def format_table(rows: Sequence[Row], policy: str, how: str) -> str:
    """The conformance table as Markdown."""
    lines = [f"Kernel {how} -> model policy {policy}", "",
             "detail: iterations with a bad outcome / iterations run, or why it skipped", "",
             "| scenario | model | kernel | agree | detail |", "|---|---|---|---|---|"]
    for r in rows:
        detail = r.kernel.detail.replace("|", "/")
        lines.append(f"| {r.scenario} | {r.model} | {r.kernel.letter} | {r.agree} | {detail} |")
    ran = [r for r in rows if r.agree != "skip"]
    agree = sum(r.agree == "yes" for r in ran)
    lines += ["", f"{len(rows)} scenarios: {len(ran)} ran, {agree} agree, "
              f"{len(ran) - agree} disagree, {len(rows) - len(ran)} skipped"]
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "python -m models.cow.conform") -> int:
    """``mcheck conform models/cow``: the table; exit 1 on a disagreement, 2 on bad input."""
    try:
        return _main(argv, prog)
    except HelpShown:
        return 0


def _main(argv: list[str] | None, prog: str) -> int:
    ap = CommandParser(prog=prog, description="run the scenarios' C reproducers on this kernel "
                                              "and compare with the model")
    ap.add_argument("--scenarios", default=None, help="comma-separated names (default: all)")
    ap.add_argument("--policy", default=None,
                    help="model policy (default: the era of the running kernel)")
    ap.add_argument("--iterations", type=int, default=None,
                    help="iterations of each race scenario (default: the program's own)")
    ap.add_argument("--keep", default=None, help="build in this directory and keep it")
    try:
        args = ap.parse_args(argv)
    except ValueError as e:
        print(f"{prog}: {e}; see {prog} --help", file=sys.stderr)
        return 2
    try:
        if args.policy:
            policy, how = get_policy(args.policy).name, f"(given --policy {args.policy})"
        else:
            policy, how = kernel_era()
        names = [x.strip() for x in (args.scenarios or "").split(",") if x.strip()]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario {unknown[0]!r}; use catalogue names such as "
                             "S01,CVE-2020-29374")
        if args.iterations is not None and args.iterations < 1:
            raise ValueError(f"--iterations {args.iterations} is impossible: give at least 1")
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
        scens = [SCENARIOS[n] for n in names] if names else list(CATALOGUE)
        rows = conform(scens, policy, iterations=args.iterations, workdir=args.keep)
    except (ValueError, OSError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    print(format_table(rows, policy, how))
    return 1 if any(r.agree == "no" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
