"""The notebook checks' stand-ins (``autograder.learner.torch_standins``): torch does each unit's work.

They let a notebook answer that uses the engine be checked in the kernel before the learner has
written the units it runs on; every one of them hands its unit to torch, so the delegation guard
must let them (and only them) call torch, and a learner's code that calls them, or calls torch from
inside a stand-in's reach, is still caught.
"""

import shutil

import pytest
from check_runs import run
from planted_bugs import answers as correct
from planted_bugs import plant

from autograder.checking import slips
from autograder.learner import checks
from autograder.learner.engines import SOLUTIONS, load_engine, load_learner_release

ENGINE_ANSWERS = [e for e, (_, _, _, uses_engine) in checks.NOTEBOOK_EXERCISES.items() if uses_engine]



@pytest.mark.parametrize("exercise", ENGINE_ANSWERS)
def test_answers_pass_on_the_release_engine_whose_units_are_all_open(exercise):
    """The release's units all raise NotImplementedError: a right answer passes only because the
    stand-ins do every unit's work, in torch, under the delegation guard."""
    release = load_learner_release()
    passed, text = run(exercise, correct.answers(release)[exercise], engine=release)
    assert passed, text
    passed, text = run(exercise, correct.answers(release)[exercise], engine=release, hidden=True, seed=7)
    assert passed, text


def _engine(tmp_path, source, name):
    folder = tmp_path / name
    shutil.copytree(SOLUTIONS / "tinygrad_course", folder / "tinygrad_course", ignore=shutil.ignore_patterns(
        "__pycache__"))
    (folder / "tinygrad_course" / "engine.py").write_text(source)
    return load_engine(folder, f"standin_test_{name}")


BORROWED_POW = """
import sys
from autograder.learner import torch_standins
return torch_standins.make(sys.modules[__name__])[("Pow", "backward")].__func__(ctx, grad)
"""


def test_a_unit_that_calls_a_stand_in_hands_its_work_to_torch(tmp_path):
    source = plant((SOLUTIONS / "tinygrad_course" / "engine.py").read_text(), "pow_backward", BORROWED_POW)
    passed, text = run("pow_backward", engine=_engine(tmp_path, source, "borrows"))
    assert not passed and slips.words(slips.DELEGATED) in text and "torch (" in text, text


def test_learner_code_a_stand_in_calls_back_may_not_use_torch(tmp_path):
    """The backward-pass stand-in hands each node to the engine's own ``Node.apply`` (learner code):
    a call into torch from there is the learner's, even with a stand-in below it on the stack."""
    source = (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()
    old = '        """Gradients for each input, each summed back to that input\'s shape."""\n'
    assert source.count(old) == 1
    source = source.replace(old, old + "        import torch\n        torch.ones(1)\n")
    engine = _engine(tmp_path, source, "node_apply_uses_torch")
    passed, text = run("train_step", correct.answers(engine)["train_step"], engine=engine)
    assert not passed and slips.words(slips.DELEGATED) in text and "torch (" in text, text
    honest = _engine(tmp_path, (SOLUTIONS / "tinygrad_course" / "engine.py").read_text(), "honest")
    assert run("train_step", correct.answers(honest)["train_step"], engine=honest)[0]



def test_grading_kernels_get_no_instructor_file(tmp_path):
    """A grading kernel runs learner code that could print any file it can read into the feedback: the
    grading code sent to it (ours and stock nbgrader's) holds the torch stand-ins, never the instructor's."""
    from autograder.instructor.grading import bundle, stock
    sent = set(bundle.package_files())
    stock.copy_grading_code(tmp_path / "autograder")
    copied = {f"autograder/{p.relative_to(tmp_path / 'autograder').as_posix()}"
              for p in (tmp_path / "autograder").rglob("*.py")}
    for files in (sent, copied):
        assert "autograder/learner/torch_standins.py" in files and "autograder/learner/checks.py" in files
        assert "autograder/instructor/standins.py" not in files
    # of the instructor's side, the kernels' sandbox gets only the kernel factory that forks them there
    factory = {f"autograder/{name}" for name in bundle.KERNEL_FACTORY}
    assert {f for f in sent if f.startswith("autograder/instructor/")} == factory - {"autograder/__init__.py"}
    assert [f for f in copied if f.startswith("autograder/instructor/")] == []
