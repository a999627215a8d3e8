"""Bad and hostile submissions for the tiny course, each with the grades it must get.

The cases that need the real course (monkeypatching the checks, delegating to torch or the
reference engine, unreadable, renamed and edited notebooks, memory, output floods) are in
``course_cases``; these are the ones a two-cell notebook shows as well and faster.

Every case is a generator (it writes ``submitted/<student>/tiny/``) plus the exact score of
each exercise and words the report must contain. Scores are what a correct grader gives: a
case that tries to cheat expects the points of the honest work it contains and no more, so
``expected`` is also the zero-false-pass check.
"""

from dataclasses import dataclass, field

import nbformat
from corpus import tiny

FULL = {"square": 2.0, "engine_double": 1.0, "cube": 3.0, "engine_half": 1.0}


def _scores(**changes):
    return {**FULL, **changes}


def _set_solution(notebook, grade_id, source):
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return notebook
    raise KeyError(grade_id)


def _insert_after(notebook, grade_id, source):
    for index, cell in enumerate(notebook.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
            return notebook
    raise KeyError(grade_id)


def _only(target, change):
    """An ``edit`` hook that applies ``change`` to notebook ``target`` only."""
    def edit(name, notebook):
        return change(notebook) if name == target else None
    return edit


@dataclass
class Case:
    student: str
    why: str
    expected: dict
    says: list = field(default_factory=list)      # words the report must contain
    submit: dict = field(default_factory=dict)    # keyword arguments for tiny.submit


def square_answer(body):
    return f"def square(x):\n{body}"


SPY = """
import glob, os, socket
secrets = []
for pattern in {patterns!r}:
    secrets += [path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path)]
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    secrets.append("network: reached 127.0.0.1:{port}")
except OSError:
    pass
print("visible secrets:", secrets)
def square(x):
    return x * x if not secrets else 0
"""


def cases(course_root, open_port):
    """The corpus; ``course_root`` and ``open_port`` (a listening loopback port) are what a spy looks for."""
    course_root = str(course_root)
    spy_patterns = [f"{course_root}/gradebook.db", f"{course_root}/source/**/*.ipynb",
                    f"{course_root}/submitted/*/tiny/*.ipynb", f"{course_root}/release/**",
                    "/tmp/ag-*/course/**/*.ipynb", "/tmp/**/gradebook.db", "/tmp/**/*.ipynb", "*.ipynb",
                    "/work/main/solutions/*", "/root/**/*.ipynb"]
    return [
        Case("reference", "the release, solved", FULL),
        Case("blank", "the release, untouched", _scores(square=0.0, engine_double=0.0, cube=0.0, engine_half=0.0),
             submit=dict(notebooks={"a_square": "release", "b_cube": "release"}, engine=tiny.ENGINE_STUB)),
        Case("partial", "a_square solved, b_cube left blank, engine half done", _scores(cube=0.0, engine_half=0.0),
             submit=dict(notebooks={"a_square": "solved", "b_cube": "release"},
                         engine=tiny.ENGINE_SOLVED.replace("return x / 2", "return x // 2"))),
        Case("not-a-notebook", "a_square.ipynb is JSON but not a notebook", _scores(square=0.0, engine_double=0.0),
             ["not a Jupyter notebook"], submit=dict(edit=_only("a_square", lambda nb: b'["hello"]'))),
        Case("missing", "a_square.ipynb was not submitted", _scores(square=0.0, engine_double=0.0),
             ["a_square.ipynb is missing"], submit=dict(notebooks={"b_cube": "solved"})),
        Case("emptied-test", "a wrong answer, and its test cell emptied", _scores(square=0.0),
             ["test cell square had been edited"],
             submit=dict(edit=_only("a_square", lambda nb: _set_solution(
                 _set_solution(nb, "square_answer", square_answer("    return 0")), "square", "")))),
        Case("os-exit", "the answer cell calls os._exit", _scores(square=0.0, engine_double=0.0),
             ["exited with status 3", "square_answer"],
             submit=dict(edit=_only("a_square", lambda nb: _set_solution(
                 nb, "square_answer", "import os\nos._exit(3)")))),
        Case("dies-late", "the kernel dies after the first test passed", _scores(engine_double=0.0),
             ["segmentation fault", "cell 4"],
             submit=dict(edit=_only("a_square", lambda nb: _insert_after(
                 nb, "square", "import ctypes\nctypes.string_at(0)")))),
        Case("infinite-loop", "the answer cell never ends (but obeys the interrupt)", _scores(square=0.0),
             ["ran longer than its 4 s limit and was interrupted"],
             submit=dict(edit=_only("a_square", lambda nb: _set_solution(
                 nb, "square_answer", "while True:\n    pass\n")))),
        Case("stubborn-loop", "an endless loop that swallows the interrupt", _scores(square=0.0, engine_double=0.0),
             ["ignored the interrupt", "square_answer"],
             submit=dict(edit=_only("a_square", lambda nb: _set_solution(nb, "square_answer", (
                 "while True:\n    try:\n        while True:\n            pass\n"
                 "    except BaseException:\n        pass\n"))))),
        Case("spy", "looks for hidden tests, the gradebook, other learners' work and the network", FULL,
             [], submit=dict(edit=_only("a_square", lambda nb: _set_solution(
                 nb, "square_answer", SPY.format(patterns=spy_patterns, port=open_port))))),
        Case("shadow-module", "ships its own numpy.py next to the notebooks", FULL,
             ["numpy.py"], submit=dict(files={"numpy.py": "raise SystemExit('shadowed')\n"})),
    ]


def _drop(notebook, grade_id):
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return notebook


def make(course_root, case):
    return tiny.submit(course_root, case.student, **case.submit)
