"""Machine-made mutants of the reference engine's solution regions, and whether the checks kill them.

Each learner unit of ``solutions/tinygrad_course/engine.py`` sits between ``### BEGIN SOLUTION
<exercise>`` and ``### END SOLUTION``. ``generate()`` parses the engine with ``ast``, takes the
statements of every region and makes one-change mutants of them (operator swaps, flipped
comparisons and constants, deleted statements, swapped arguments, dropped factors, ...: see
``OPERATORS``). A mutant's region is written back with ``ast.unparse``; the rest of engine.py is
left byte for byte. Its id is ``<exercise>:<operator>:<digest>``, the digest being that of the
region's code before and after the change (as ``ast.unparse`` writes it: comments and layout do
not count), never a position: an id names the same mutant for as long as the region's code stays
the same, whatever moves around it. Generation is deterministic; mutants that leave the code as
it was, or repeat an earlier mutant of the same region, are dropped.

``run(mutant)`` writes the mutated engine into a fresh copy of the reference package, loads it
and runs its exercise's check -- visible, then hidden with each of ``SEEDS`` -- under an alarm.
The mutant is killed when a check raises ``CheckFailed`` (or any other exception: ``crashed``),
when the engine does not import (``load``) or when a check outlives the alarm (``timeout``); it
survives otherwise. Only the mutated region's exercise is checked: the checks test units alone.
``unmutated()`` gives the controls, the reference rebuilt the same way with nothing changed: they
must survive, or every "killed" means nothing.

    python tests/mutation.py                      # every mutant, a table, then the survivors
    python tests/mutation.py -e clamp_backward    # one exercise (repeatable)
    python tests/mutation.py --list               # the mutants, not run
    python tests/mutation.py --jobs 2 --seeds 1 2 # two processes / other hidden seeds

``tests/mutation_equivalents.toml`` lists the survivors judged equivalent to the reference (the
same as torch on every input); ``tests/checking/test_mutants.py`` asserts every other mutant is killed.
"""

import argparse
import ast
import contextlib
import copy
import hashlib
import io
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from a clone without `pip install -e .`
    sys.path.insert(0, str(REPO))

PACKAGE = REPO / "solutions" / "tinygrad_course"
ENGINE = PACKAGE / "engine.py"
EQUIVALENTS = HERE / "mutation_equivalents.toml"
SEEDS = (1, 2, 3)  # the hidden checks' seeds
TIMEOUT = 20  # seconds per mutant (all its checks), an infinite loop counts as killed

from autograder.instructor.release import BEGIN, END  # noqa: E402 - the one parser of solution markers (after sys.path)

# --------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------

@dataclass
class Region:
    exercise: str
    begin: int  # line number (1-based) of the BEGIN marker
    end: int  # line number of the END marker
    indent: str
    statements: list = field(default_factory=list)  # the region's outermost ast statements

    def text(self, statements=None):
        """The region's code as ``ast.unparse`` writes it (no indentation, no comments)."""
        return "\n".join(ast.unparse(s) for s in (self.statements if statements is None else statements))


def regions(source):
    """Every solution region of ``source``, in file order, with its statements."""
    found, open_region = [], None
    for number, line in enumerate(source.splitlines(), 1):
        begin = BEGIN.match(line)
        if begin:
            if open_region is not None:
                raise ValueError(f"line {number}: BEGIN SOLUTION inside the region opened on line {open_region.begin}")
            open_region = Region(begin["exercise"], number, 0, begin["indent"])
        elif END.match(line):
            if open_region is None:
                raise ValueError(f"line {number}: END SOLUTION without BEGIN")
            open_region.end = number
            found.append(open_region)
            open_region = None
    if open_region is not None:
        raise ValueError(f"the region opened on line {open_region.begin} is never closed")
    tree = ast.parse(source)
    lines = source.splitlines()
    for region in found:
        for parent in ast.walk(tree):
            if getattr(parent, "lineno", 0) > region.begin:
                continue  # a statement nested in one of the region's own statements
            for _, value in ast.iter_fields(parent):
                if isinstance(value, list):
                    region.statements += [s for s in value if isinstance(s, ast.stmt)
                                          and region.begin < s.lineno and s.end_lineno < region.end]
        region.statements.sort(key=lambda s: s.lineno)
        covered = set()
        for statement in region.statements:
            covered.update(range(statement.lineno, statement.end_lineno + 1))
        stray = [n for n in range(region.begin + 1, region.end)
                 if n not in covered and lines[n - 1].strip() and not lines[n - 1].strip().startswith("#")]
        if not region.statements or stray:
            raise ValueError(f"the {region.exercise} region on lines {region.begin}-{region.end} is not whole "
                             f"statements (lines {stray} belong to none)")
    return found


def rewrite(source, region, statements):
    """``source`` with ``region``'s lines replaced by ``statements`` (unparsed, indented)."""
    lines = source.splitlines(keepends=True)
    body = "".join(region.indent + line + "\n" for line in region.text(statements).splitlines())
    return "".join(lines[:region.begin]) + body + "".join(lines[region.end - 1:])


# --------------------------------------------------------------------------
# Mutation operators: each maps one node to [(replacement node, words)], never changing the node
# --------------------------------------------------------------------------

ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
          ast.BitAnd: "&", ast.BitOr: "|"}
COMPARE_FLIPS = {ast.Lt: (ast.LtE, ast.GtE), ast.LtE: (ast.Lt, ast.Gt), ast.Gt: (ast.GtE, ast.LtE),
                 ast.GtE: (ast.Gt, ast.Lt), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
                 ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,)}
c = copy.deepcopy


def _with(node, **changes):
    new = c(node)
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def op_binop(node):
    """``a + b`` -> ``a - b``, ``a * b``, ... (+ - * / ** among each other, and // <-> /)."""
    if isinstance(node, ast.BinOp | ast.AugAssign):
        kind = type(node.op)
        others = [o for o in ARITH if o is not kind] if kind in ARITH else []
        others += {ast.FloorDiv: [ast.Div], ast.Div: [ast.FloorDiv]}.get(kind, [])
        return [(_with(node, op=o()), f"{SYMBOL[kind]} -> {SYMBOL[o]}") for o in others]
    return []


def op_and_or(node):
    """``and`` <-> ``or``, and the elementwise ``&`` <-> ``|``."""
    if isinstance(node, ast.BoolOp):
        swapped = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return [(_with(node, op=swapped), "and <-> or")]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
        swapped = ast.BitOr() if isinstance(node.op, ast.BitAnd) else ast.BitAnd()
        return [(_with(node, op=swapped), "& <-> |")]
    return []


def _is_none(node):
    return isinstance(node, ast.Constant) and node.value is None


def _none_check(node, k):
    sides = [node.left, *node.comparators]
    return isinstance(node.ops[k], ast.Is | ast.IsNot) and (_is_none(sides[k]) or _is_none(sides[k + 1]))


def op_compare(node):
    """``<`` -> ``<=`` / ``>=``, ``==`` <-> ``!=``, ``is`` <-> ``is not``, ``in`` <-> ``not in``."""
    found = []
    if isinstance(node, ast.Compare):
        for k, op in enumerate(node.ops):
            if _none_check(node, k):
                continue  # op_none_check's
            for flip in COMPARE_FLIPS.get(type(op), ()):
                ops = list(node.ops)
                ops[k] = flip()
                found.append((_with(node, ops=ops), "comparison flipped"))
    return found


def op_none_check(node):
    """``x is None`` <-> ``x is not None``."""
    found = []
    if isinstance(node, ast.Compare):
        for k, op in enumerate(node.ops):
            if _none_check(node, k):
                ops = list(node.ops)
                ops[k] = ast.IsNot() if isinstance(op, ast.Is) else ast.Is()
                found.append((_with(node, ops=ops), "None check inverted"))
    return found


def op_bool_const(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return [(ast.Constant(not node.value), "True <-> False")]
    return []


def op_number(node):
    """0 -> 1, 1 -> 0, n -> n + 1, n -> -n."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)):
        return []
    n, values = node.value, []
    if n == 0:
        values.append(type(n)(1))
    if n == 1:
        values.append(type(n)(0))
    values += [n + 1, -n]
    unique = []
    for v in values:
        if repr(v) != repr(n) and repr(v) not in map(repr, unique):
            unique.append(v)
    return [(ast.Constant(v), f"{n!r} -> {v!r}") for v in unique]


def op_not(node):
    """``not x`` -> ``x``; a condition ``x`` -> ``not x`` (if/while/ternary tests, comprehension
    filters, operands of and/or)."""
    found = []
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        found.append((c(node.operand), "not removed"))
    tests = []
    if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
        tests = [("test", None)]
    elif isinstance(node, ast.comprehension):
        tests = [("ifs", k) for k in range(len(node.ifs))]
    elif isinstance(node, ast.BoolOp):
        tests = [("values", k) for k in range(len(node.values))]
    for name, k in tests:
        old = getattr(node, name) if k is None else getattr(node, name)[k]
        if isinstance(old, ast.UnaryOp) and isinstance(old.op, ast.Not):
            continue  # removing it is the other half of this operator
        new = c(node)
        negated = ast.UnaryOp(ast.Not(), c(old))
        if k is None:
            setattr(new, name, negated)
        else:
            getattr(new, name)[k] = negated
        found.append((new, "not inserted"))
    return found


def op_delete(node):
    """A statement -> ``pass`` (``continue``/``break`` are their own operators)."""
    if isinstance(node, ast.stmt) and not isinstance(node, ast.Pass | ast.Continue | ast.Break):
        return [(ast.Pass(), "statement deleted")]
    return []


def op_continue(node):
    return [(ast.Pass(), "continue -> pass")] if isinstance(node, ast.Continue) else []


def op_break(node):
    return [(ast.Pass(), "break -> pass")] if isinstance(node, ast.Break) else []


def op_swap_args(node):
    """``f(a, b, ...)`` -> ``f(b, a, ...)``."""
    if (isinstance(node, ast.Call) and len(node.args) >= 2
            and not any(isinstance(a, ast.Starred) for a in node.args[:2])):
        args = list(node.args)
        args[0], args[1] = args[1], args[0]
        return [(_with(node, args=args), "first two arguments swapped")]
    return []


def op_swap_tuple(node):
    """``return a, b`` -> ``return b, a``; any tuple, also either side of ``a, b = x, y``."""
    if isinstance(node, ast.Tuple) and len(node.elts) >= 2:
        elts = list(node.elts)
        elts[0], elts[1] = elts[1], elts[0]
        return [(_with(node, elts=elts), "tuple elements swapped")]
    return []


def op_drop_factor(node):
    """``grad * X`` -> ``X`` and -> ``grad``; ``a / b`` -> ``a``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return [(c(node.right), "left factor dropped"), (c(node.left), "right factor dropped")]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.FloorDiv):
        return [(c(node.left), "divisor dropped")]
    return []


CONTAINERS = {"tuple", "list", "set", "dict", "sorted", "zip", "enumerate", "range", "reversed"}


def _negatable(node):
    """Could ``-node`` be a slip (a number or an array), rather than a TypeError or ``n -> -n``?"""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CONTAINERS:
        return False
    return not isinstance(node, ast.Constant | ast.Tuple | ast.List | ast.Set | ast.Dict | ast.Compare | ast.BoolOp
                          | ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
                          | ast.JoinedStr | ast.UnaryOp)


def op_unary_minus(node):
    """``-x`` -> ``x``; ``x`` -> ``-x`` for a returned or assigned value (each element of a tuple of
    them) and for either branch of ``a if c else b``."""
    found = []
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        found.append((c(node.operand), "unary minus removed"))
    places = []
    if isinstance(node, ast.Return) and node.value is not None:
        places = [("value", None)]
    elif isinstance(node, ast.Assign):
        unpacked = [t for t in node.targets if isinstance(t, ast.Tuple | ast.List)]
        if not unpacked:
            places = [("value", None)]
        elif isinstance(node.value, ast.Tuple) and all(len(t.elts) == len(node.value.elts) for t in unpacked):
            places = [("value", k) for k in range(len(node.value.elts))]
    elif isinstance(node, ast.IfExp):
        places = [("body", None), ("orelse", None)]
    if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
        places = [("value", k) for k in range(len(node.value.elts))]
    for name, k in places:
        old = getattr(node, name) if k is None else getattr(node, name).elts[k]
        if not _negatable(old):
            continue
        new = c(node)
        negated = ast.UnaryOp(ast.USub(), c(old))
        if k is None:
            setattr(new, name, negated)
        else:
            getattr(new, name).elts[k] = negated
        found.append((new, "unary minus added"))
    return found


OPERATORS = {
    "binop": op_binop,
    "compare": op_compare,
    "none_check": op_none_check,
    "bool_const": op_bool_const,
    "not": op_not,
    "number": op_number,
    "and_or": op_and_or,
    "unary_minus": op_unary_minus,
    "drop_factor": op_drop_factor,
    "swap_args": op_swap_args,
    "swap_tuple": op_swap_tuple,
    "continue": op_continue,
    "break": op_break,
    "delete": op_delete,
}


# --------------------------------------------------------------------------
# Mutants
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    id: str
    exercise: str
    operator: str
    description: str  # one line: where, and what changed
    line: int  # the changed line of the reference engine (for reading; not part of the id)
    original: str  # the reference's line
    source: str  # the whole mutated engine.py


def _walk(statements):
    for statement in statements:
        yield from ast.walk(statement)


def _replace(statements, target, new):
    """Put ``new`` where ``target`` is, in place, inside ``statements`` (a list of statements)."""
    for k, statement in enumerate(statements):
        if statement is target:
            statements[k] = new
            return
    for parent in _walk(statements):
        for name, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for k, item in enumerate(value):
                    if item is target:
                        value[k] = new
                        return
    raise LookupError("node not found")


def _short(text, width=70):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _parents(statements):
    return {id(child): parent for parent in _walk(statements) for child in ast.iter_child_nodes(parent)}


def _context(node, parents):
    """The node, or the smallest enclosing expression or statement whose code is long enough to read."""
    while len(ast.unparse(node).strip()) < 16 and not isinstance(node, ast.stmt) and id(node) in parents:
        node = parents[id(node)]
    return node


def _line(node, parents):
    while not hasattr(node, "lineno"):  # a comprehension, an operator
        node = parents[id(node)]
    return node.lineno


def generate(source=None):
    """Every mutant of every solution region of ``source`` (default: the reference engine), in order."""
    source = ENGINE.read_text() if source is None else source
    lines = source.splitlines()
    mutants, seen = [], set()
    for region in regions(source):
        original_text = region.text()
        seen.add((region.exercise, original_text, original_text))
        nodes = list(_walk(region.statements))
        parents = _parents(region.statements)
        for operator, mutate in OPERATORS.items():
            for index, node in enumerate(nodes):
                context = _context(node, parents)
                for new, words in mutate(node):
                    statements = c(region.statements)
                    copies = list(_walk(statements))
                    shown = copies[nodes.index(context)] if context is not node else new
                    _replace(statements, copies[index], new)
                    ast.fix_missing_locations(ast.Module(body=statements, type_ignores=[]))
                    text = region.text(statements)
                    key = (region.exercise, original_text, text)
                    if key in seen:
                        continue  # the code is unchanged, or an earlier mutant already made it
                    seen.add(key)
                    line = _line(context, parents)
                    before = ast.unparse(context).strip()
                    after = "pass" if isinstance(shown, ast.Pass) else ast.unparse(shown).strip()
                    description = f"engine.py:{line} {words}: `{_short(before, 60)}` -> `{_short(after, 60)}`"
                    # the id: what changed, in words a region's code determines (not where it sits)
                    digest = _digest(original_text + "\0" + text)
                    mutants.append(Mutant(
                        id=f"{region.exercise}:{operator}:{digest}", exercise=region.exercise,
                        operator=operator, description=description, line=line,
                        original=lines[line - 1].strip(), source=rewrite(source, region, statements)))
    ids = [m.id for m in mutants]
    duplicated = {i for i in ids if ids.count(i) > 1}
    if duplicated:
        raise ValueError(f"mutant ids not unique: {sorted(duplicated)}")
    return mutants


def unmutated(source=None):
    """Per exercise, the reference rebuilt the way mutants are (regions unparsed), nothing changed:
    a control that must pass its checks, or every "killed" would mean nothing."""
    source = ENGINE.read_text() if source is None else source
    out, found = {}, regions(source)
    for exercise in dict.fromkeys(r.exercise for r in found):
        text = source
        for region in reversed([r for r in found if r.exercise == exercise]):  # bottom up: lines stay put
            text = rewrite(text, region, region.statements)
        out[exercise] = Mutant(id=f"{exercise}:control:{_digest(text)}", exercise=exercise, operator="control",
                               description="the reference, its regions unparsed, nothing changed", line=0,
                               original="", source=text)
    return out


def equivalents(path=EQUIVALENTS):
    """``{mutant id: reason}`` from mutation_equivalents.toml."""
    if not Path(path).is_file():
        return {}
    data = tomllib.loads(Path(path).read_text())
    return {entry["id"]: entry["reason"] for entry in data.get("equivalent", [])}


# --------------------------------------------------------------------------
# Running a mutant
# --------------------------------------------------------------------------

class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so the checks' ``except Exception`` lets it through."""


def _alarm(signum, frame):
    raise _Timeout()


@dataclass(frozen=True)
class Outcome:
    id: str
    exercise: str
    status: str  # killed | crashed | load | timeout | survived
    by: str  # which check killed it ("visible", "hidden seed=2"), or ""
    message: str  # the first lines of the verdict
    seconds: float

    @property
    def killed(self):
        return self.status != "survived"


def run(mutant, seeds=SEEDS, timeout=TIMEOUT):
    """Load ``mutant`` from a fresh copy of the reference package and run its exercise's checks."""
    from autograder.learner.checks import CheckFailed, check
    from autograder.learner.engines import load_engine

    no_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no stale .pyc for a same-size mutant
    start = time.perf_counter()
    name = "_mutant_" + re.sub(r"\W", "_", mutant.id)
    status, message = "survived", ""
    alarm = threading.current_thread() is threading.main_thread()  # signals reach the main thread only
    previous = signal.signal(signal.SIGALRM, _alarm) if alarm else None
    signal.alarm(timeout) if alarm else None
    by = "import"
    try:
        with tempfile.TemporaryDirectory(prefix="mutant-") as folder:
            package = Path(folder) / "tinygrad_course"
            shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
            (package / "engine.py").write_text(mutant.source)
            try:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    engine = load_engine(folder, name)
            except _Timeout:
                raise
            except Exception as error:  # noqa: BLE001 - any import failure kills the mutant
                status, message = "load", f"{type(error).__name__}: {error}"
            else:
                for hidden, seed in [(False, None)] + [(True, s) for s in seeds]:
                    by = f"hidden seed={seed}" if hidden else "visible"
                    try:
                        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                            warnings.simplefilter("ignore")  # numpy's divide-by-zero etc. in mutated code
                            check(mutant.exercise, hidden=hidden, engine=engine, seed=seed)
                    except CheckFailed as failure:
                        status, message = "killed", str(failure)
                        break
                    except _Timeout:
                        raise
                    except Exception as error:  # noqa: BLE001 - the check itself fell over
                        status, message = "crashed", f"{type(error).__name__}: {error}"
                        break
                else:
                    by = ""
    except _Timeout:
        status, message = "timeout", f"still running after {timeout} s"
    finally:
        if alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        sys.dont_write_bytecode = no_bytecode
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
    first = "\n".join(message.splitlines()[:4])
    return Outcome(mutant.id, mutant.exercise, status, by, first, time.perf_counter() - start)


def _worker_setup():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    torch.set_num_threads(1)
    import autograder.learner.checks  # noqa: F401 - pay the import once per worker


def _run_args(args):
    return run(*args)


def run_all(mutants, seeds=SEEDS, jobs=1, timeout=TIMEOUT):
    """``{id: Outcome}`` for every mutant, in ``jobs`` processes. One is the default: a mutant takes
    tens of milliseconds, less than a spawned worker takes to import torch."""
    work = [(m, tuple(seeds), timeout) for m in mutants]
    if jobs == 1:
        outcomes = [_run_args(w) for w in work]
    else:
        # spawn: a fork of a process that has run torch may hang in its thread pool
        with multiprocessing.get_context("spawn").Pool(jobs, initializer=_worker_setup) as pool:
            outcomes = pool.map(_run_args, work, chunksize=1)
    return {o.id: o for o in outcomes}


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

STATUSES = ("killed", "crashed", "load", "timeout", "survived")


def table(mutants, outcomes, known=None):
    """Per exercise: mutants, how each was killed, survivors (equivalent ones counted apart)."""
    known = equivalents() if known is None else known
    head = ["exercise", "mutants", *STATUSES[:-1], "survived", "equivalent", "score"]
    rows = []
    exercises = list(dict.fromkeys(m.exercise for m in mutants))
    for exercise in exercises + ["total"]:
        mine = [m for m in mutants if exercise in ("total", m.exercise)]
        counts = {s: sum(outcomes[m.id].status == s for m in mine) for s in STATUSES}
        equivalent = sum(outcomes[m.id].status == "survived" and m.id in known for m in mine)
        killable = len(mine) - equivalent
        killed = len(mine) - counts["survived"]
        score = f"{100 * killed / killable:.0f}%" if killable else "-"
        rows.append([exercise, len(mine), *(counts[s] for s in STATUSES[:-1]),
                     counts["survived"] - equivalent, equivalent, score])
    widths = [max(len(str(r[k])) for r in [head] + rows) for k in range(len(head))]
    fmt = lambda row: "  ".join(str(v).ljust(w) if k == 0 else str(v).rjust(w)  # noqa: E731
                                for k, (v, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[:-1]]
                     + ["  ".join("-" * w for w in widths), fmt(rows[-1])])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-e", "--exercise", action="append", help="only this exercise's mutants (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants, do not run them")
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1: a run takes seconds)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="hidden-check seeds")
    parser.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds per mutant")
    parser.add_argument("-v", "--verbose", action="store_true", help="every mutant's outcome, not only survivors")
    args = parser.parse_args(argv)
    mutants = [m for m in generate() if not args.exercise or m.exercise in args.exercise]
    if args.list:
        for m in mutants:
            print(f"{m.id:44}  {m.description}")
        print(f"{len(mutants)} mutants")
        return 0
    start = time.perf_counter()
    chosen = {m.exercise for m in mutants}
    controls = [m for m in unmutated().values() if m.exercise in chosen]
    failed = [o for o in run_all(controls, args.seeds, 1, args.timeout).values() if o.killed]
    if failed:  # then "killed" means nothing
        for o in failed:
            print(f"the checks fail the reference itself ({o.exercise}, {o.status}, {o.by}):\n{o.message}\n")
        return 2
    outcomes = run_all(mutants, args.seeds, args.jobs, args.timeout)
    elapsed = time.perf_counter() - start
    known = equivalents()
    print(table(mutants, outcomes, known))
    print(f"\n{len(mutants)} mutants in {elapsed:.1f} s ({args.jobs} process{'es' * (args.jobs > 1)}, "
          f"hidden seeds {' '.join(map(str, args.seeds))})")
    for status in ("load", "timeout", "crashed") + (("killed",) if args.verbose else ()):
        chosen = [m for m in mutants if outcomes[m.id].status == status]
        if chosen:
            print(f"\n{status}:")
            for m in chosen:
                first = outcomes[m.id].message.splitlines()[0] if outcomes[m.id].message else ""
                print(f"  {m.id:44}  {m.description}\n  {'':44}  [{outcomes[m.id].by}] {_short(first, 110)}")
    survivors = [m for m in mutants if outcomes[m.id].status == "survived"]
    for title, chosen in (("equivalent survivors (mutation_equivalents.toml)", [m for m in survivors if m.id in known]),
                          ("SURVIVORS", [m for m in survivors if m.id not in known])):
        if chosen:
            print(f"\n{title}:")
            for m in chosen:
                print(f"  {m.id:44}  {m.description}" + (f"\n  {'':44}  ({known[m.id]})" if m.id in known else ""))
    return 1 if any(m.id not in known for m in survivors) else 0


if __name__ == "__main__":
    sys.exit(main())
