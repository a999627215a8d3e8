"""Mutation testing of the grader: every machine-made mutant of a solution region fails its check.

``tests/mutation.py`` makes one-change mutants of each of the 17 engine units' solution regions
(``ast``: swapped operators, flipped comparisons and constants, deleted statements, dropped
factors, ...). Each is loaded in a fresh copy of the reference package and its exercise's check
runs, visible and hidden with fixed seeds. A mutant that no check fails is either equivalent to
the reference (listed, with a reason, in ``tests/mutation_equivalents.toml``) or a gap in the
checks: a wrong engine that earns full marks. The whole run takes seconds (one process).
"""

import mutation
import pytest

from autograder.learner.checks import UNITS

MUTANTS = mutation.generate()
EQUIVALENTS = mutation.equivalents()


def test_every_unit_exercise_has_mutants():
    counts = {exercise: sum(m.exercise == exercise for m in MUTANTS) for exercise in UNITS}
    assert all(counts.values()), f"no mutants for {[e for e, n in counts.items() if not n]}"
    assert {m.exercise for m in MUTANTS} == set(UNITS)


def test_generation_is_deterministic_and_ids_are_not_positions():
    again = mutation.generate()
    assert [(m.id, m.description, m.source) for m in again] == [(m.id, m.description, m.source) for m in MUTANTS]
    source = mutation.ENGINE.read_text()
    moved = mutation.generate("# a comment\n\n\n" + source)  # every region three lines further down
    assert [m.id for m in moved] == [m.id for m in MUTANTS]
    assert len({m.id for m in MUTANTS}) == len(MUTANTS)


def test_each_mutant_changes_its_own_region_only():
    reference = mutation.ENGINE.read_text().splitlines()
    regions = {r.begin: r for r in mutation.regions(mutation.ENGINE.read_text())}
    for mutant in MUTANTS:
        lines = mutant.source.splitlines()
        changed_from = next(k for k, (a, b) in enumerate(zip(reference, lines)) if a != b) + 1
        owner = max(begin for begin in regions if begin < changed_from)
        assert regions[owner].exercise == mutant.exercise, mutant.id
        tail = len(reference) - regions[owner].end  # everything after the region's END marker is untouched
        assert lines[len(lines) - tail - 1:] == reference[len(reference) - tail - 1:], mutant.id


def test_listed_equivalents_are_still_generated():
    ids = {m.id for m in MUTANTS}
    gone = sorted(set(EQUIVALENTS) - ids)
    assert not gone, (f"mutation_equivalents.toml lists mutants that are no longer generated (their region's code "
                      f"changed; judge the new survivors afresh): {gone}")


def test_a_mutant_that_hangs_or_breaks_the_import_is_killed():
    source = mutation.ENGINE.read_text()
    hangs = mutation.Mutant("neg_backward:test:hang", "neg_backward", "test", "an endless loop at import", 0, "",
                            source + "\nwhile True:\n    pass\n")
    broken = mutation.Mutant("neg_backward:test:load", "neg_backward", "test", "a NameError at import", 0, "",
                             source + "\nundefined_name\n")
    assert mutation.run(hangs, timeout=1).status == "timeout"
    assert mutation.run(broken).status == "load"


@pytest.mark.slow
@pytest.mark.parametrize("exercise", list(UNITS))
def test_every_mutant_is_killed_or_listed_as_equivalent(exercise):
    control = mutation.run(mutation.unmutated()[exercise])
    assert not control.killed, (f"the {exercise} check fails the reference itself (rebuilt as mutants are, nothing "
                                f"changed), so no verdict on a mutant means anything:\n{control.message}")
    mine = [m for m in MUTANTS if m.exercise == exercise]
    outcomes = {m.id: mutation.run(m) for m in mine}
    survivors = [m for m in mine if not outcomes[m.id].killed and m.id not in EQUIVALENTS]
    revived = [m for m in mine if outcomes[m.id].killed and m.id in EQUIVALENTS]
    problems = [f"SURVIVED (no check tells this wrong engine from torch): {m.id}\n    {m.description}"
                for m in survivors]
    problems += [f"KILLED although listed as equivalent (not equivalent after all, or the check now rejects a "
                 f"correct answer): {m.id}\n    {m.description}\n    {outcomes[m.id].by}: {outcomes[m.id].message}"
                 for m in revived]
    if problems:
        pytest.fail(f"{exercise}: {len(mine)} mutants, hidden seeds {mutation.SEEDS}\n" + "\n".join(problems),
                    pytrace=False)
