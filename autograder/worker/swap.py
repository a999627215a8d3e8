"""Stand-ins in an engine's exercise sites for the length of a block, and the learner's units back after.

Torch-free and no answer to anything: it only puts functions where ``exercises.UNITS`` says each
unit lives. Both sets of stand-ins use it -- the grader's own (sent to the judge's answers worker
over the pipe) and the notebook's torch-backed ones (``autograder.learner.torch_standins``).
"""

from contextlib import contextmanager

from autograder.worker import exercises

# exercise id -> [(class name or None for a module-level function, attribute), ...]
SITES = {exercise: sites for exercise, (_, _, sites) in exercises.UNITS.items()}
_MISSING = object()


def storage(tensor):
    """The numpy array holding an engine tensor's numbers. The engine keeps it in ``_array`` now that
    ``x.data`` is a tensor, as in torch; a learner's engine from before that keeps it in ``.data``."""
    array = vars(tensor).get("_array") if hasattr(tensor, "__dict__") else None
    return array if array is not None else getattr(tensor, "data", None)


def rebind(tensor, array):
    """Make ``tensor`` hold ``array`` (not a copy), in either kind of engine (see ``storage``)."""
    if isinstance(getattr(type(tensor), "data", None), property):
        tensor._array = array
    else:
        tensor.data = array


@contextmanager
def swapped(engine, replacements, keep=None):
    """Inside the block, ``engine`` runs ``replacements[(owner, name)]`` at every site but exercise ``keep``'s."""
    saved = []
    try:
        for exercise, places in SITES.items():
            if exercise == keep:
                continue
            for owner_name, name in places:
                owner = engine if owner_name is None else getattr(engine, owner_name, None)
                if owner is None or (owner_name is not None and not isinstance(owner, type)):
                    continue
                saved.append((owner, name, vars(owner).get(name, _MISSING)))
                setattr(owner, name, replacements[(owner_name, name)])
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
