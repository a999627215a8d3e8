"""One way for tests to call a notebook check and keep what it said."""

import contextlib
import io

from autograder.learner import checks


def run(exercise, answer=None, **options):
    """``check`` with its printed line captured: ``(passed, text)``."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            checks.check(exercise, answer, **options)
    except AssertionError as failure:
        return False, str(failure)
    return True, printed.getvalue()
