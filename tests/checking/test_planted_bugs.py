"""Every planted bug fails its own check, with the slip named, and no other check.

The full matrix: each engine variant (the reference with one solution region changed) is
loaded once and run through every check, visible and hidden; each wrong notebook answer runs
beside the correct answers to the other exercises.
"""

import contextlib
import io

import pytest
from planted_bugs import answers as correct
from planted_bugs import variants, write_engine, wrong_answer

from autograder.learner import checks
from autograder.learner.engines import SOLUTIONS, load_engine

ENGINE_VARIANTS, NOTEBOOK_VARIANTS = variants()


def failures(answers, engine, hidden_seed):
    """``{exercise: message}`` for every check that fails: visible, then hidden with ``hidden_seed``."""
    found = {}
    for exercise in checks.ALL_EXERCISES:
        for hidden in (False, True):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    checks.check(exercise, answers.get(exercise), engine=engine, hidden=hidden,
                                 seed=hidden_seed if hidden else None)
            except AssertionError as failure:
                found.setdefault(exercise, (hidden, str(failure)))
    return found


def test_every_graded_exercise_has_a_planted_bug():
    planted = {v["unit"] for v in ENGINE_VARIANTS} | {v["exercise"] for v in NOTEBOOK_VARIANTS}
    assert planted == set(checks.ALL_EXERCISES)


@pytest.mark.parametrize("variant", ENGINE_VARIANTS, ids=lambda v: v["name"])
def test_engine_variant_fails_only_its_unit(variant, tmp_path, rng):
    folder = write_engine(tmp_path, SOLUTIONS / "tinygrad_course", variant)
    engine = load_engine(folder, f"planted_{variant['name'].replace('#', '_')}")
    found = failures(correct.answers(engine), engine, int(rng.integers(2**63)))
    assert set(found) == {variant["unit"]}, {e: m for e, (_, m) in found.items()}
    hidden, message = found[variant["unit"]]
    assert not hidden, f"caught only by the hidden check:\n{message}"
    assert variant["slip"] in message, message


@pytest.mark.parametrize("variant", NOTEBOOK_VARIANTS, ids=lambda v: v["name"])
def test_wrong_notebook_answer_fails_only_its_exercise(variant, reference, rng):
    answers = correct.answers(reference)
    answers[variant["exercise"]] = wrong_answer(variant, reference,
                                                checks.NOTEBOOK_EXERCISES[variant["exercise"]][1])
    found = failures(answers, reference, int(rng.integers(2**63)))
    assert set(found) == {variant["exercise"]}, {e: m for e, (_, m) in found.items()}
    hidden, message = found[variant["exercise"]]
    assert not hidden, f"caught only by the hidden check:\n{message}"
    assert variant["slip"] in message, message
