"""The house drawn from its imports: four folders by audience, imports in one direction, no circle."""

import ast
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "autograder"
# folder -> the folders its modules may import from (besides itself and the package root)
MAY_IMPORT = {
    "worker": set(),
    "checking": {"worker"},
    "learner": {"checking", "worker"},
    "instructor": {"learner", "checking", "worker"},
}


def _name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name):
    """The autograder modules ``name`` imports, anywhere in its source (function bodies included)."""
    path = MODULES[name]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {m for m in found if m in MODULES and m != name and m != "autograder"}


def folder_of(name):
    return name.split(".")[1] if name.count(".") >= 1 else None


def test_every_module_lives_in_one_of_the_four_folders():
    assert {folder_of(m) for m in MODULES if m != "autograder"} == set(MAY_IMPORT)


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m != "autograder"))
def test_imports_go_one_way(name):
    allowed = MAY_IMPORT[folder_of(name)] | {folder_of(name)}
    wrong = sorted(m for m in imports_of(name) if folder_of(m) not in allowed)
    assert wrong == [], f"{name} ({folder_of(name)}/) may import only from {sorted(allowed)}"


def test_no_import_circle():
    graph = {name: {m for m in imports_of(name) if not MODULES[m].name == "__init__.py"} for name in MODULES}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("folder", sorted(MAY_IMPORT) + ["instructor/grading"])
def test_each_folder_says_who_uses_it(folder):
    doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
    assert doc and len(doc.split()) >= 30, f"autograder/{folder}/__init__.py needs a paragraph on who uses it"


def test_the_checks_circle_and_a_learner_import_of_the_instructor_side_are_caught(monkeypatch, tmp_path):
    """The two tests above can fail: a worker module importing the checks, and a circle, are found."""
    bad = tmp_path / "autograder"
    for name, text in {"__init__.py": "", "worker/__init__.py": "", "worker/a.py": "import autograder.checking.b\n",
                       "checking/__init__.py": "", "checking/b.py": "from autograder.worker import a\n"}.items():
        (bad / name).parent.mkdir(parents=True, exist_ok=True)
        (bad / name).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", bad)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", {_name(p): p for p in sorted(bad.rglob("*.py"))})
    with pytest.raises(AssertionError, match="may import only from"):
        test_imports_go_one_way("autograder.worker.a")
    with pytest.raises(AssertionError, match="import circle"):
        test_no_import_circle()


ROOT = PACKAGE.parent
# every text a person copies a command from: the docs, CI, Binder, the learner repository's README
COMMAND_TEXTS = [ROOT / "README.md", ROOT / ".ci" / "run", *sorted((ROOT / "binder").glob("*")),
                 *sorted((ROOT / "classroom").rglob("*.md"))]
MODULE_MENTION = re.compile(r"(?:python3? -m |from |import )(autograder(?:\.\w+)*)(?: import (\w+))?")


def test_every_module_the_docs_and_ci_name_exists():
    """A moved module must not leave a command behind that fails on a newcomer's machine."""
    named = {(text_file.name, module, member)
             for text_file in COMMAND_TEXTS if text_file.is_file()
             for module, member in MODULE_MENTION.findall(text_file.read_text(errors="replace"))}
    assert named, "no command names an autograder module: the pattern no longer matches the docs"
    wrong = []
    for where, module, member in sorted(named):
        if member and f"{module}.{member}" in MODULES:
            continue
        if module not in MODULES:
            wrong.append(f"{where}: no module {module}")
        elif member and not re.search(rf"^(def|class) {member}\b|^{member}\s*=|import .*\b{member}\b",
                                      MODULES[module].read_text(), re.M):
            wrong.append(f"{where}: {module} has no {member}")
    assert wrong == []


TESTS = ROOT / "tests"
# The tests mirror the package: each autograder folder has its own, beside the engine's and the notebooks'.
TEST_FOLDERS = set(MAY_IMPORT) | {"engine", "notebooks"}


def misplaced_tests(tests):
    """Test files outside ``tests/<one of TEST_FOLDERS>/``, and file names used twice (pytest imports
    each test file by its bare name, so two ``test_x.py`` in different folders would clash)."""
    files = sorted(tests.rglob("test_*.py"))
    wrong = [str(p.relative_to(tests)) for p in files
             if p.parent.parent != tests or p.parent.name not in TEST_FOLDERS]
    names = [p.name for p in files]
    return wrong + [f"{name} twice" for name in sorted(set(names)) if names.count(name) > 1]


def test_every_test_file_sits_in_its_audience_folder():
    assert misplaced_tests(TESTS) == [], f"test files go in tests/{{{','.join(sorted(TEST_FOLDERS))}}}/"


@pytest.mark.parametrize("folder", sorted(MAY_IMPORT))
def test_each_autograder_folder_has_its_tests_folder(folder):
    assert any((TESTS / folder).glob("test_*.py")), f"autograder/{folder}/ has no tests/{folder}/test_*.py"


def test_a_test_at_the_root_a_stray_folder_and_a_shared_name_are_caught(tmp_path):
    """The check above can fail."""
    for name in ["test_root.py", "misc/test_stray.py", "engine/test_same.py", "worker/test_same.py",
                 "engine/test_fine.py", "conftest.py", "corpus/helper.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert misplaced_tests(tmp_path) == ["misc/test_stray.py", "test_root.py", "test_same.py twice"]


# a file under tests/ named where someone copies it from: docs, CI, package docstrings, the tests themselves
TEST_PATH = re.compile(r"\btests/[\w/]*\w\.(?:py|toml|cfg|json)\b")
PATH_TEXTS = [ROOT / "README.md", ROOT / ".ci" / "run", ROOT / "pyproject.toml", *sorted(PACKAGE.rglob("*.py")),
              *sorted(TESTS.rglob("*.py")), *sorted(TESTS.glob("*.toml")), *sorted((ROOT / "benchmarks").glob("*.py"))]


def test_every_test_path_the_docs_and_code_name_exists():
    """A moved test file must not leave a path behind in the docs or a comment."""
    named = {(text_file.relative_to(ROOT).as_posix(), path)
             for text_file in PATH_TEXTS if text_file.is_file()
             for path in TEST_PATH.findall(text_file.read_text(errors="replace"))}
    assert named, "nothing names a file under tests/: the pattern no longer matches the docs"
    assert sorted(f"{where}: {path}" for where, path in named if not (ROOT / path).is_file()) == []
