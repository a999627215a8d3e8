"""Name the usual slips in a wrong gradient, in words a learner understands.

A check knows three things when an answer is wrong: the learner's numbers, torch's numbers,
and what went into the computation (the incoming gradient, the local derivative). Most wrong
gradients are one small step away from the right one -- a flipped sign, a missing factor, the
incoming gradient forgotten -- and ``explain`` looks for that step, so the feedback can say
*what* to fix, not only that the numbers differ.

The slip names below are stable phrases: feedback always contains one of them when it
recognises a slip, and the tests look for them.
"""

import numpy as np

SIGN = "sign flipped"
FACTOR = "off by a constant factor"
PASSED_THROUGH = "gradient passed through unchanged"
NO_INCOMING = "local derivative without the incoming gradient"
NOT_ACCUMULATED = "gradient not accumulated"
NEW_GRAD = "a new .grad instead of adding in place"
SHARED = "shares memory with a gradient array it was given"
SUMMED_IN_PLACE = "gradients summed in place into a shared array"
NOT_REDUCED = "broadcast not reduced"
WRONG_SHAPE = "wrong shape"
WRONG_SAVED = "wrong saved tensor"
SWAPPED = "gradients swapped"
NOT_WRITTEN = "not written yet"
DELEGATED = "handed the work to"
CLEARED_FIRST = "gradient cleared before the update"
COUNTED = "counted one backward too"  # ... many / ... few
TRANSPOSED = "transposed weights"

RTOL, ATOL = 1e-6, 1e-9


def agrees(mine, expected, rtol=RTOL, atol=ATOL):
    """Same shape and the same numbers (NaN where torch has NaN) within tolerance."""
    try:
        mine = np.asarray(mine, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    expected = np.asarray(expected, dtype=np.float64)
    return mine.shape == expected.shape and bool(np.allclose(mine, expected, rtol, atol, equal_nan=True))


def show(value):
    """Numbers as a learner reads them: short, and the same text on every run."""
    if value is None:
        return "None"
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return repr(value)
    array = array + 0.0  # no "-0" in feedback
    if array.ndim == 0:
        return f"{float(array):.6g}"
    text = np.array2string(array, precision=5, separator=", ", threshold=24, edgeitems=3,
                           floatmode="maxprec", suppress_small=False, max_line_width=96)
    return text + ("" if array.ndim == 1 else f"  (shape {tuple(array.shape)})")


def explain(mine, expected, *, incoming=None, local=None, known=(), general=True, rtol=RTOL, atol=ATOL):
    """Words for the step that turns torch's ``expected`` into ``mine``, or None.

    ``known`` lists ``(words, wrong_value)`` for mistakes specific to one exercise; they are
    tried first because they say the most. Then the incoming gradient returned unchanged and
    the local derivative returned without it: both are exact matches, so they come before the
    guesses that only compare shapes of numbers -- with an incoming gradient of -1 (or 2), a
    dropped ``grad`` would otherwise read as a flipped sign (or a factor). Last, unless
    ``general`` is false, a flipped sign and a constant factor.
    """
    def same(a, b):
        return a is not None and agrees(a, b, rtol, atol)

    mine = np.asarray(mine, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    for words, wrong in known:
        if same(mine, wrong) and not same(expected, wrong):
            return words
    if same(mine, incoming) and not same(expected, incoming):
        return (f"{PASSED_THROUGH}: you returned the incoming gradient `grad` as it is. "
                "Multiply it by this operation's local derivative (chain rule).")
    if same(mine, local) and not same(expected, local):
        return (f"{NO_INCOMING}: you returned d(output)/d(input) alone. The chain rule multiplies "
                "it by the gradient arriving from above: `grad * ...`.")
    if not general or mine.shape != expected.shape:
        return None
    if same(-mine, expected) and not same(expected, 0 * expected):
        return f"{SIGN}: your gradient is exactly minus torch's. Check the sign of the derivative."
    factor = constant_factor(mine, expected, rtol)
    if factor is not None:
        return (f"{FACTOR}: yours is {factor} everywhere. Look for a missing or extra factor "
                "in the derivative.")
    return None


def explain_pair(mine, expected):
    """Words for two gradients handed back in the wrong order, or None."""
    if len(mine) != 2 or len(expected) != 2 or agrees(expected[0], expected[1]):
        return None
    if agrees(mine[0], expected[1]) and agrees(mine[1], expected[0]):
        return (f"{SWAPPED}: your gradient for the first input is torch's for the second, and the "
                "other way round. Return them in the order of forward's inputs.")
    return None


def constant_factor(mine, expected, rtol=RTOL):
    """``"2 times torch's"`` when ``mine`` is one simple multiple of ``expected``, else None.

    A single number is always some multiple of another, so with one value only small whole
    factors and their inverses count as a recognised slip.
    """
    mine, expected = np.asarray(mine, np.float64).ravel(), np.asarray(expected, np.float64).ravel()
    nonzero = np.abs(expected) > 1e-12
    if not nonzero.any() or not np.allclose(mine[~nonzero], 0, atol=1e-12):
        return None
    ratios = mine[nonzero] / expected[nonzero]
    ratio = float(np.median(ratios))
    if not np.allclose(ratios, ratio, rtol=max(rtol, 1e-9)) or abs(ratio) < 1e-12 or np.isclose(abs(ratio), 1):
        return None
    for k in range(2, 13):
        if np.isclose(abs(ratio), k, rtol=1e-6):
            return f"{'-' if ratio < 0 else ''}{k} times torch's"
        if np.isclose(abs(ratio), 1 / k, rtol=1e-6):
            return f"{'-' if ratio < 0 else ''}1/{k} of torch's"
    if nonzero.sum() > 1:
        return f"{ratio:.4g} times torch's"
    return None


def exactly(flag):
    """A flag as a driver reported it: ``True``/``False``, or what was there instead of a bool."""
    if isinstance(flag, dict):
        return f"{flag.get('repr')} (a {flag.get('not_bool')}, where torch has a bool)"
    return repr(flag)
