"""Nothing a learner receives is an answer: no function of it earns an engine point from the judge.

Every function (``def`` or ``lambda``, at any depth) of every file a learner gets -- the modules
``python -m autograder.instructor.release --publish`` ships and the release's ``tinygrad_course`` -- is grafted,
as a learner would paste it into engine.py, onto every exercise site of the untouched release engine
whose call it can take (``autograder.worker.exercises.UNITS``); for an exercise with two sites the
other one gets the reference's own function, so half an answer counts too. "Pasted" means: the
function's module, its imports that work where it runs, its definitions, and the functions defined
inside other ones lifted to the top (a stand-in made by a factory finds its helpers), among the
engine's own names, with ``engine`` naming the engine.

Thousands of pairs are too many for the judge one by one, so a screen runs each pair through the
same checks and drivers, with the same seeds, in a plain process where torch *is* importable (more
than the judge's worker allows); every pair that passes there is then judged for real, under
bubblewrap, and must get 0. The same procedure on the instructor's stand-ins (what learners used to
receive) finds every unit, and the judge pays them: the test would fail if they were shipped again.
"""

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.instructor import release, sandbox
from autograder.learner.engines import COURSE, REPO, SOLUTIONS

pytestmark = pytest.mark.skipif(not sandbox.probe()[0], reason="bubblewrap is not available here")

DIGEST, SECRET = "graft", "course"
# how the engine (its given code) or the judge's drivers call each site: positional count, keywords
CALLS = {("_GradModeContext", "__enter__"): (1, ()), ("_GradModeContext", "__exit__"): (4, ()),
         ("AccumulateGrad", "apply"): (2, ()), (None, "sum_to_shape"): (2, ()), ("Tensor", "zero_"): (1, ()),
         ("Tensor", "detach"): (1, ()), (None, "run_backward"): (2, ("retain_graph",)),
         (None, "topological_order"): (1, ())}
BACKWARD_CALL = (2, ())  # Function.backward(ctx, grad), every other site


# ------------------------------------------------------------------ the graft (also pasted into engine.py)

def graft_donor(engine, source):
    """The names a learner has after pasting module ``source`` into engine.py (see the module docstring)."""
    import ast
    names = dict(vars(engine))
    names.update(engine=engine, __name__="graft_donor")
    tree = ast.parse(source)
    imports = [s for s in tree.body if isinstance(s, ast.Import | ast.ImportFrom)]
    nested = [n for top in tree.body for n in ast.walk(top)
              if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n is not top]
    kept = [s for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign
                                                | ast.AnnAssign)]
    for statement in imports + nested + kept:
        try:
            exec(compile(ast.Module([statement], []), "<graft>", "exec"), names)
        except Exception:  # noqa: BLE001 - an import the sandbox lacks, a name defined later: left out
            pass
    return names


def graft_function(names, source):
    """The function ``source`` (one ``def`` or one ``lambda``) defines among ``names``."""
    import ast
    node = ast.parse(source).body[0]
    if isinstance(node, ast.Expr):
        return eval(compile(ast.Expression(node.value), "<graft>", "eval"), names)
    node.decorator_list = []
    defined = {}
    exec(compile(ast.Module([node], []), "<graft>", "exec"), names, defined)
    return defined[node.name]


def graft(engine, names, source, site, partners):
    """``source``'s function at ``site`` of ``engine``; each ``(site, reference source)`` partner at its
    site, compiled among the engine's names, and found by the grafted function too where its module
    does not define that name. Returns ``[(namespace, name, had it, old value)]``, to put back."""
    replaced = []

    def put(owner, name, value):
        namespace = vars(engine) if owner is None else vars(getattr(engine, owner))
        replaced.append((engine if owner is None else getattr(engine, owner), name, name in namespace,
                         namespace.get(name)))
        setattr(engine if owner is None else getattr(engine, owner), name, value)
    for (owner, name), partner_source in partners:
        partner = graft_function(vars(engine), partner_source)
        if owner is None and names.get(name) is getattr(engine, name):
            replaced.append((names, name, True, names[name]))
            names[name] = partner
        put(owner, name, partner)
    put(site[0], site[1], graft_function(names, source))
    return replaced


def restore(replaced):
    for namespace, name, had, old in reversed(replaced):
        if isinstance(namespace, dict):
            namespace[name] = old
        elif had:
            setattr(namespace, name, old)
        else:
            delattr(namespace, name)


# ------------------------------------------------------------------ what there is to graft, and where

def learner_files():
    """Every Python file a learner receives: the published ``autograder`` modules and the release's engine."""
    modules = release.learner_modules(sorted(COURSE.glob("*.ipynb")))
    return sorted(modules.values()) + sorted((COURSE / "tinygrad_course").rglob("*.py"))


def functions_of(path):
    """``[(label, source)]``: every def and lambda in the file, as ``ast.unparse`` writes it."""
    found = []
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            label = f"{Path(path).relative_to(REPO)}:{node.lineno}"
            found.append((label, ast.unparse(node)))
    return found


def takes(source, call):
    """Does the function ``source`` defines accept the site's call (positional count, keywords)?"""
    node = ast.parse(source).body[0]
    node = node.value if isinstance(node, ast.Expr) else node
    args, (count, keywords) = node.args, call
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    if count > len(positional) and args.vararg is None:
        return False
    if any(p.arg not in keywords for p in positional[count:required]):
        return False
    accepted = {p.arg for p in positional[count:]} | {k.arg for k in args.kwonlyargs}
    if args.kwarg is None and not set(keywords) <= accepted:
        return False
    return all(default is not None or k.arg in keywords for k, default in zip(args.kwonlyargs, args.kw_defaults))


def reference_sources():
    """The reference engine's own function at every site: the partner of a half-answer."""
    tree = ast.parse((SOLUTIONS / "tinygrad_course" / "engine.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[(None, node.name)] = ast.unparse(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[(node.name, item.name)] = ast.unparse(item)
    return found


def pairs(files):
    """``[(file, label, source, exercise, site, partners)]``: every function at every site it can take."""
    from autograder.worker import exercises
    reference = reference_sources()
    found = []
    for path in files:
        for label, source in functions_of(path):
            for exercise, (_, _, sites) in exercises.UNITS.items():
                for site in sites:
                    if takes(source, CALLS.get(tuple(site), BACKWARD_CALL)):
                        partners = [(tuple(other), reference[tuple(other)]) for other in sites if other != site]
                        found.append((str(path), label, source, exercise, tuple(site), partners))
    return found


# ------------------------------------------------------------------ the screen: the judge's checks, in a plain process

class _Runner:
    """The judge's units worker in miniature: a session on the engine, plain data both ways."""

    def __init__(self, exercise, engine):
        from autograder.worker import drivers
        self.session = drivers.Session(exercise, engine=engine)

    def problem(self):
        return None

    def run(self, driver, args):
        from autograder.worker import codec
        return codec.roundtrip(self.session.run(driver, codec.roundtrip(args)))


def screen(files):
    """The pairs that pass their exercise's visible and hidden checks here (torch importable)."""
    from autograder.instructor import judge
    from autograder.learner import checks
    from autograder.learner.engines import load_learner_release
    engine = load_learner_release().engine
    donors, passing = {}, []
    for path, label, source, exercise, site, partners in pairs(files):
        if path not in donors:
            donors[path] = graft_donor(engine, Path(path).read_text())
        replaced = []
        try:
            replaced = graft(engine, donors[path], source, site, partners)
            for hidden in (False, True):
                seed = judge.hidden_seed(SECRET, DIGEST, exercise) if hidden else checks.visible_seed(exercise)
                checks.run_check(exercise, _Runner(exercise, engine), hidden=hidden, seed=seed)
            passing.append((path, label, source, exercise, site, partners))
        except BaseException:  # noqa: BLE001 - any failure, a SystemExit included, earns nothing
            pass
        finally:
            restore(replaced)
    return passing


SCREEN = textwrap.dedent("""
    import json, sys
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    import test_nothing_to_copy as t
    print(json.dumps(t.screen(json.loads(sys.argv[3]))))
""")


def screened(files):
    """``screen(files)`` in a child process: what the pasted code does stays there."""
    done = subprocess.run([sys.executable, "-c", SCREEN, str(Path(__file__).parent), str(REPO),
                           json.dumps([str(f) for f in files])],
                          capture_output=True, text=True, timeout=3000, cwd=REPO,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return [(path, label, source, exercise, tuple(site), [(tuple(s), p) for s, p in partners])
            for path, label, source, exercise, site, partners in json.loads(done.stdout.strip().splitlines()[-1])]


# ------------------------------------------------------------------ the judge, for real

def grafted_engine(plan):
    """The release engine.py with each ``(module file, function source, site, partners)`` of ``plan``
    grafted at its end, by the same functions as the screen's."""
    helpers = "\n\n".join(inspect.getsource(f) for f in (graft_donor, graft_function, graft))
    steps = [(Path(path).read_text(), source, site, partners) for path, source, site, partners in plan]
    return ((COURSE / "tinygrad_course" / "engine.py").read_text() + "\n\n# ---- grafted\n" + helpers
            + "\n\nimport sys as _graft_sys\n_graft_engine = _graft_sys.modules[__name__]\n"
            + f"for _m, _s, _site, _p in {steps!r}:\n"
            + "    graft(_graft_engine, graft_donor(_graft_engine, _m), _s, _site, _p)\n")


def judged(tmp_path, survivors):
    """The judge's verdicts (bwrap) on the survivors, one exercise per survivor in each engine."""
    import shutil

    from autograder.instructor import judge
    rounds = []
    for survivor in survivors:
        for batch in rounds:
            if survivor[3] not in {s[3] for s in batch}:
                batch.append(survivor)
                break
        else:
            rounds.append([survivor])
    verdicts = []
    for number, batch in enumerate(rounds):
        folder = tmp_path / f"round{number}"
        shutil.copytree(COURSE / "tinygrad_course", folder / "tinygrad_course",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "tinygrad_course" / "engine.py").write_text(
            grafted_engine([(path, source, site, partners) for path, _, source, _, site, partners in batch]))
        found = judge.judge([s[3] for s in batch], folder, {}, secret=SECRET, digest=DIGEST, sandbox="bwrap")
        verdicts += [(survivor[1], survivor[3], found[survivor[3]]) for survivor in batch]
    return verdicts


# Negation is linear: the release engine's own Neg.forward, `return -a`, is Neg.backward too. The
# learner's engine must hold the forward, so this one pair is no leak to close; it is judged like the
# rest, and its point asserted, so the procedure is seen to pay what works.
NEG_FORWARD = ("course/tinygrad_course/engine.py", "neg_backward", "@staticmethod\ndef forward(ctx, a):\n    return -a")


def test_no_function_a_learner_receives_earns_an_engine_point(tmp_path):
    files = learner_files()
    assert any(f.name == "torch_standins.py" for f in files) and any(f.name == "engine.py" for f in files)
    assert len(pairs(files)) > 3000  # every def and lambda, at every site it can take
    survivors = screened(files)
    given = [s for s in survivors if (s[1].split(":")[0], s[3], s[2]) == NEG_FORWARD]
    rest = [s for s in survivors if s not in given]
    assert len(given) == 1
    assert {s[1].split(":")[0] for s in rest} == {"autograder/learner/torch_standins.py"}, rest  # torch does it, here
    verdicts = judged(tmp_path, rest)
    assert [(label, exercise) for label, exercise, found in verdicts if found.passed] == []
    for _, _, found in verdicts:  # each lost on its own (the engine imported, the graft is there)
        assert "does not import" not in found.message and "not written yet" not in found.message, found
    assert [found.passed for _, _, found in judged(tmp_path / "given", given)] == [True]


def test_the_instructors_standins_would_earn_every_unit(tmp_path):
    """The same procedure on what learners used to receive (``autograder/standins.py``, now on the
    instructor's side only): the screen finds every engine unit and the judge pays each one."""
    from autograder.learner import checks
    survivors = screened([REPO / "autograder" / "instructor" / "standins.py"])
    assert {s[3] for s in survivors} == set(checks.UNITS)
    one_each = list({s[3]: s for s in survivors}.values())
    verdicts = judged(tmp_path, one_each)
    assert {exercise for _, exercise, found in verdicts if found.passed} == set(checks.UNITS)
