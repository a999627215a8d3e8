"""Replay the seed tutorial with ``tinygrad_course`` standing in for ``torch``.

Every code cell of the seed runs in order twice, once against torch and once against the
reference engine, each in its own namespace (the engine's namespace resolves ``import torch``
to the engine, so neither run can see the other's objects).  After each cell we compare what a
notebook would show: the displayed value of the last expression, what was printed, warnings,
the error raised, and the state of every tensor the cell left behind (repr, grad, grad_fn graph).

The seed is a plain-text export of a notebook, so the code cells are recovered by a parser:

* a cell starts at a line ``In [N]:`` and runs until the next prompt or the next markdown
  block -- a heading (``##`` .. ``######``; the code itself only uses single-``#`` comments),
  a rule (``---``) or display math (``$$``);
* the cell's text is split into paragraphs at blank lines; the first paragraph is code, and
  so is each following paragraph that starts with a comment, is indented, or holds a Python
  statement other than a bare expression.  The first paragraph that is none of these starts
  the recorded output (e.g. ``tensor(6.)`` or ``Manual Gradient ...: 6.69``), and everything
  after it is output too.

The extracted cells are committed as ``tests/data/seed_cells.json`` so the replay runs in a
clone without the seed; rebuild it with ``python tests/engine/test_seed_replay.py --write``.
"""

import ast
import builtins
import contextlib
import io
import json
import re
import sys
import warnings
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "seed_cells.json"
SEED_NAME = "000_cb0feba2f393b130.txt"
# CI puts shared/ beside the clone; a developer's machine has it at /work/shared
SEED_CANDIDATES = (REPO.parent / "shared" / "seed" / SEED_NAME, Path("/work/shared/seed") / SEED_NAME)

PROMPT = re.compile(r"^In \[(\d+)\]:\s*$")
MARKDOWN = re.compile(r"^(#{2,6} |-{3,}\s*$|\$\$)")
COMMENTED_BACKWARD = re.compile(r"^# (\w+\.backward\(\))\s*$", re.MULTILINE)


# -- extracting the cells -----------------------------------------------------

def _paragraphs(lines):
    """``(first, last)`` line indices of each run of non-blank lines."""
    found, start = [], None
    for i, line in enumerate(lines + [""]):
        if line.strip() and start is None:
            start = i
        elif not line.strip() and start is not None:
            found.append((start, i - 1))
            start = None
    return found


def _is_code(lines):
    if lines[0].startswith("#") or lines[0][:1].isspace():
        return True
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    return any(not isinstance(statement, ast.Expr) for statement in tree.body)


def extract_cells(text):
    """The seed's code cells, in order: ``[{"prompt": N, "source": "..."}]``."""
    lines, cells, i = text.splitlines(), [], 0
    while i < len(lines):
        prompt = PROMPT.match(lines[i])
        i += 1
        if not prompt:
            continue
        end = i
        while end < len(lines) and not PROMPT.match(lines[end]) and not MARKDOWN.match(lines[end]):
            end += 1
        block, paragraphs = lines[i:end], _paragraphs(lines[i:end])
        if not paragraphs:
            raise ValueError(f"seed cell In [{prompt[1]}] has no code")
        code_end = paragraphs[0][1]
        for first, last in paragraphs[1:]:
            if not _is_code(block[first:last + 1]):
                break
            code_end = last
        cells.append({"prompt": int(prompt[1]), "source": "\n".join(block[:code_end + 1])})
        i = end
    return cells


def find_seed():
    return next((path for path in SEED_CANDIDATES if path.is_file()), None)


def load_cells():
    return json.loads(FIXTURE.read_text())


def uncomment_backward(source):
    """Turn the seed's ``# y.backward()`` (shown as "this will not work") into live code."""
    return COMMENTED_BACKWARD.sub(r"\1", source)


# -- running the cells ---------------------------------------------------------

def _namespace(torch_module):
    """A fresh ``__main__``-like namespace whose ``import torch`` gives ``torch_module``."""
    def importer(name, *args, **kwargs):
        if name == "torch":
            return torch_module
        return builtins.__import__(name, *args, **kwargs)
    return {"__name__": "__main__", "__builtins__": {**vars(builtins), "__import__": importer}}


def _graph(node, depth=0):
    """A grad_fn graph as nested ``(name, [children])``; ``None`` where torch has None."""
    if node is None:
        return None
    children = [] if depth > 50 else [_graph(child, depth + 1) for child, _ in node.next_functions]
    return [type(node).__name__, children]


def _tensor_state(value):
    state = {"repr": repr(value), "requires_grad": value.requires_grad, "is_leaf": value.is_leaf,
             "grad_fn": _graph(value.grad_fn)}
    if value.is_leaf:
        state["grad"] = repr(value.grad)
    return state


def run_cell(source, namespace, tensor_type):
    """What a notebook shows for one cell, plus the tensors it leaves in ``namespace``."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    stdout, shown, error = io.StringIO(), None, None
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(stdout):
        warnings.simplefilter("always")
        try:
            exec(compile(tree, "<cell>", "exec"), namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
                shown = None if value is None else repr(value)
        except Exception as exc:  # a notebook shows the error and carries on
            error = [type(exc).__name__, str(exc)]
    tensors = {name: _tensor_state(value) for name, value in namespace.items()
               if isinstance(value, tensor_type)}
    return {"display": shown, "stdout": stdout.getvalue(), "error": error, "tensors": tensors,
            "warnings": [[w.category.__name__, str(w.message)] for w in caught]}


def transcript(cells, torch_module, tensor_type):
    namespace = _namespace(torch_module)
    return [run_cell(cell["source"], namespace, tensor_type) for cell in cells]


# -- tests -----------------------------------------------------------------------

def _differences(want, have, path=""):
    """Readable lines for each place two transcripts differ."""
    if isinstance(want, dict) and isinstance(have, dict):
        return [line for key in sorted(set(want) | set(have), key=str)
                for line in _differences(want.get(key), have.get(key), f"{path}.{key}")]
    if want == have:
        return []
    return [f"{path.lstrip('.')}:\n    torch:          {want!r}\n    tinygrad_course: {have!r}"]


def _compare(cells, engine):
    with torch.random.fork_rng():
        expected = transcript(cells, torch, torch.Tensor)
    got = transcript(cells, engine, engine.Tensor)
    for cell, want, have in zip(cells, expected, got, strict=True):
        assert have == want, (f"seed cell In [{cell['prompt']}]:\n{cell['source']}\n\n"
                              + "\n".join(_differences(want, have)))
    return expected


def test_replay_prints_what_torch_prints(reference):
    expected = _compare(load_cells(), reference)
    assert any(cell["display"] for cell in expected) and any(cell["stdout"] for cell in expected)


def test_uncommented_backward_raises_torchs_error(reference):
    cells = [dict(cell, source=uncomment_backward(cell["source"])) for cell in load_cells()]
    live = [cell["prompt"] for cell, original in zip(cells, load_cells()) if cell != original]
    assert len(live) == 3, f"expected the seed's three commented-out backward calls, found {live}"
    expected = _compare(cells, reference)
    errors = {cell["prompt"]: result["error"] for cell, result in zip(cells, expected)}
    assert all(errors[prompt] is not None for prompt in live), errors


def test_fixture_matches_the_seed():
    seed = find_seed()
    if seed is None:
        pytest.skip(f"seed not found at {', '.join(map(str, SEED_CANDIDATES))}")
    assert load_cells() == extract_cells(seed.read_text()), (
        "tests/data/seed_cells.json is stale; rebuild it: python tests/engine/test_seed_replay.py --write")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    seed = find_seed()
    if seed is None:
        sys.exit(f"seed not found at {SEED_CANDIDATES}")
    FIXTURE.write_text(json.dumps(extract_cells(seed.read_text()), indent=1) + "\n")
    print(f"wrote {FIXTURE.relative_to(REPO)}")
