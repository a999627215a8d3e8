"""The corpus of realistic wrong answers (``tests/corpus/slips.py``): each loses its exercise on every
seed tried, with its slip named, while the reference passes those same seeds; where the visible check
catches it too, it names the same slip."""


import pytest
from check_runs import run
from corpus import slips as corpus
from planted_bugs import answers as correct
from planted_bugs import write_engine, wrong_answer

from autograder.learner import checks
from autograder.learner.engines import SOLUTIONS, load_engine

SEEDS = 5



def name(entry):
    return f"{entry.get('unit') or entry['exercise']}:{entry['idea'][:50]}"


def seeds(rng):
    return [int(s) for s in rng.integers(0, 2**63, size=SEEDS)]


def test_the_corpus_is_big_and_covers_the_families():
    assert len(corpus.ENGINE) + len(corpus.NOTEBOOK) >= 20
    units = {e["unit"] for e in corpus.ENGINE}
    assert {"backward_pass", "accumulate_grad", "zero_", "log_backward", "log_softmax_backward"} <= units


@pytest.mark.parametrize("entry", corpus.ENGINE, ids=name)
def test_an_engine_slip_loses_its_unit_on_every_seed_with_its_slip_named(entry, reference, rng, tmp_path):
    engine = load_engine(write_engine(tmp_path, SOLUTIONS / "tinygrad_course", entry),
                         f"slip_{abs(hash(name(entry)))}")
    for seed in seeds(rng):
        passed, text = run(entry["unit"], engine=reference, hidden=True, seed=seed)
        assert passed, text
        passed, text = run(entry["unit"], engine=engine, hidden=True, seed=seed)
        assert not passed, f"{entry['idea']} passed the hidden check with seed {seed}"
        assert entry["slip"] in text, text
    passed, text = run(entry["unit"], engine=engine)
    assert passed or entry["slip"] in text, text  # where the visible check catches it, it names it too


@pytest.mark.parametrize("entry", corpus.NOTEBOOK, ids=name)
def test_a_notebook_slip_loses_its_exercise_on_every_seed_with_its_slip_named(entry, reference, rng):
    exercise = entry["exercise"]
    function_name = checks.NOTEBOOK_EXERCISES[exercise][1]
    answer = wrong_answer({**entry, "name": name(entry)}, reference, function_name)
    right = correct.answers(reference)[exercise]
    for seed in seeds(rng):
        passed, text = run(exercise, right, engine=reference, hidden=True, seed=seed)
        assert passed, text
        passed, text = run(exercise, answer, engine=reference, hidden=True, seed=seed)
        assert not passed, f"{entry['idea']} passed the hidden check with seed {seed}"
        assert entry["slip"] in text, text
    passed, text = run(exercise, answer, engine=reference)
    assert passed or entry["slip"] in text, text
