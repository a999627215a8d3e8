"""Name the usual slips in a wrong gradient, in words a learner understands.

A check knows three things when an answer is wrong: the learner's numbers, torch's numbers,
and what went into the computation (the incoming gradient, the local derivative). Most wrong
gradients are one small step away from the right one -- a flipped sign, a missing factor, the
incoming gradient forgotten -- and ``explain`` looks for that step, so the feedback can say
*what* to fix, not only that the numbers differ.

Each slip has a stable id (the constants below), which travels from the judge to the gradebook,
the ledger and the instructor's insight page, and a name in words (``LABELS``), which feedback
quotes: a message always contains the name of the slip it recognised.
"""

from dataclasses import dataclass

import numpy as np

SIGN = "sign_flipped"
FACTOR = "constant_factor"
PASSED_THROUGH = "passed_through"
NO_INCOMING = "no_incoming"
NOT_ACCUMULATED = "not_accumulated"
NEW_GRAD = "new_grad"
SHARED = "shared_memory"
SUMMED_IN_PLACE = "summed_in_place"
NOT_REDUCED = "not_reduced"
WRONG_SHAPE = "wrong_shape"
WRONG_SAVED = "wrong_saved"
SWAPPED = "swapped"
NOT_WRITTEN = "not_written"
DELEGATED = "delegated"
RAISED = "raised"
STOPPED = "worker_stopped"
NEEDS_OTHER = "needs_other_exercise"
WRONG_RULE = "wrong_rule"
MISSING_TERM = "missing_term"
WRONG_AXES = "wrong_axes"
WRONG_MASK = "wrong_mask"
NOT_IN_PLACE = "not_in_place"
DETACH_COPIED = "detach_copied"
DETACH_SAME = "detach_same_tensor"
NAN_TIMES_ZERO = "nan_times_zero"
ONE_EXAMPLE = "one_example"
NOT_CLEARED = "grads_not_cleared"
WRONG_LOSS = "wrong_loss"
OVERFLOW = "overflow"
GRAPH_CUT = "graph_cut"
WRONG_ORDER = "wrong_order"
WRONG_PATHS = "paths_not_added"
WRONG_START = "wrong_start"
NO_SQRT = "no_square_root"
NORM_AFTER = "norm_after_clipping"
NORMS_ADDED = "norms_added"
PER_TENSOR = "clipped_per_tensor"
CLIPPED_UNDER = "clipped_under_max"
BY_VALUE = "clipped_by_value"
FACTOR_INVERTED = "factor_upside_down"
LAYERS_REVERSED = "layers_reversed"
WRONG_TENSOR = "hook_on_wrong_tensor"
VALUES_NOT_GRADS = "values_not_gradients"
LATE_BINDING = "late_binding"
CLEARED_FIRST = "cleared_before_update"
COUNTED = "off_by_one_count"
TRANSPOSED = "transposed_weights"
JACOBIAN_TRANSPOSED = "jacobian_transposed"
ROWS_ACCUMULATED = "jacobian_rows_accumulated"
ROW_REPEATED = "jacobian_row_repeated"
NOT_ONE_HOT = "v_not_one_hot"
PRODUCT_RULE = "product_rule_term_missing"
SIN_TANGENT = "sin_tangent_uses_sin"
TANGENT_IGNORED = "tangent_ignored"
NO_CREATE_GRAPH = "no_create_graph"
FINITE_DIFFERENCE = "finite_difference"
GRADIENT_NOT_HVP = "gradient_not_hvp"
PENALTY_NOT_SQUARED = "penalty_not_squared"
PENALTY_WITHOUT_ONE = "penalty_without_one"
NORM_OVER_BATCH = "norm_over_batch"
EXP_OVERFLOW = "exp_overflow"
FORWARD_DIFFERENCE = "forward_difference"
STEP_NOT_HALVED = "central_step_not_halved"
LOW_PRECISION = "float32_differences"
ALL_AT_ONCE = "all_coordinates_at_once"
NOT_RESTORED = "input_not_restored"

# id -> the slip's name in words. The first fourteen are quoted in feedback as they stand; the
# rest name slips whose feedback has its own sentence, as the instructor's insight page shows them.
LABELS = {
    SIGN: "sign flipped",
    FACTOR: "off by a constant factor",
    PASSED_THROUGH: "gradient passed through unchanged",
    NO_INCOMING: "local derivative without the incoming gradient",
    NOT_ACCUMULATED: "gradient not accumulated",
    NEW_GRAD: "a new .grad instead of adding in place",
    SHARED: "shares memory with a gradient array it was given",
    SUMMED_IN_PLACE: "gradients summed in place into a shared array",
    NOT_REDUCED: "broadcast not reduced",
    WRONG_SHAPE: "wrong shape",
    WRONG_SAVED: "wrong saved tensor",
    SWAPPED: "gradients swapped",
    NOT_WRITTEN: "not written yet",
    DELEGATED: "handed the work to",
    RAISED: "raised an error",
    STOPPED: "the grading worker stopped (time, memory or a crash)",
    NEEDS_OTHER: "needs another exercise written first",
    WRONG_RULE: "another function's formula or derivative",
    MISSING_TERM: "a factor or term of the derivative left out",
    WRONG_AXES: "summed or averaged over the wrong axes",
    WRONG_MASK: "the gradient let through in the wrong places",
    NOT_IN_PLACE: "a new array where the old one must change in place",
    DETACH_COPIED: "detach copied the data",
    DETACH_SAME: "detach returned the tensor itself",
    NAN_TIMES_ZERO: "zeroed by multiplying by 0 (nan stays nan)",
    ONE_EXAMPLE: "one example's numbers typed in",
    NOT_CLEARED: "gradients not cleared between steps",
    WRONG_LOSS: "a different loss",
    OVERFLOW: "float32 overflow",
    GRAPH_CUT: "no gradient reached a parameter",
    WRONG_ORDER: "nodes visited in the wrong order",
    WRONG_PATHS: "gradients from different paths not added",
    WRONG_START: "backward started with the wrong gradient",
    NO_SQRT: "the square root left out",
    NORM_AFTER: "the norm after clipping returned",
    NORMS_ADDED: "the tensors' own norms added up",
    PER_TENSOR: "each tensor clipped by its own norm",
    CLIPPED_UNDER: "clipped though under max_norm",
    BY_VALUE: "each entry clipped (clip_grad_value_)",
    FACTOR_INVERTED: "the clipping factor upside down",
    LAYERS_REVERSED: "layers in backward's order",
    WRONG_TENSOR: "a hook on the wrong tensor",
    VALUES_NOT_GRADS: "values measured instead of gradients",
    LATE_BINDING: "lambdas in a loop read the loop variable late",
    CLEARED_FIRST: "gradient cleared before the update",
    COUNTED: "counted one backward too many or too few",
    TRANSPOSED: "transposed weights",
    JACOBIAN_TRANSPOSED: "the Jacobian transposed (columns instead of rows)",
    ROWS_ACCUMULATED: ".grad not cleared between rows",
    ROW_REPEATED: "one row repeated",
    NOT_ONE_HOT: "v not one-hot",
    PRODUCT_RULE: "a term of the product rule missing",
    SIN_TANGENT: "the tangent of sin uses sin",
    TANGENT_IGNORED: "the input's tangent ignored",
    NO_CREATE_GRAPH: "the first gradient taken without create_graph=True",
    FINITE_DIFFERENCE: "a finite difference instead of the exact product",
    GRADIENT_NOT_HVP: "the gradient returned instead of H v",
    PENALTY_NOT_SQUARED: "the penalty's square left out",
    PENALTY_WITHOUT_ONE: "the penalty's - 1 left out",
    NORM_OVER_BATCH: "one norm over the whole batch, not one per example",
    EXP_OVERFLOW: "exp overflowed (inf / inf is nan)",
    FORWARD_DIFFERENCE: "a one-sided difference instead of a central one",
    STEP_NOT_HALVED: "the central difference divided by eps, not 2 * eps",
    LOW_PRECISION: "differences taken in float32",
    ALL_AT_ONCE: "every coordinate moved at once",
    NOT_RESTORED: "the input left changed",
}


def words(slip_id):
    """The slip's name in words, as feedback quotes it."""
    return LABELS[slip_id]


@dataclass(frozen=True)
class Slip:
    """A slip a check recognised: its ``id`` (a key of ``LABELS``) and the check's sentence to the
    learner about it (None when the failure's own sentence already names it)."""
    id: str
    words: str | None = None

    def __post_init__(self):
        if self.id not in LABELS:
            raise ValueError(f"unknown slip id {self.id!r}: add it to autograder.checking.slips.LABELS")


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
    """The ``Slip`` (id and words) for the step that turns torch's ``expected`` into ``mine``, or None.

    ``known`` lists ``(slip id, words, wrong_value)`` for mistakes specific to one exercise; they are
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
    for entry in known:
        if len(entry) != 3:
            raise TypeError(f"a known slip is (slip id, words, wrong value), not {entry!r}")
        slip_id, said, wrong = entry
        if same(mine, wrong) and not same(expected, wrong):
            return Slip(slip_id, said)
    if same(mine, incoming) and not same(expected, incoming):
        return Slip(PASSED_THROUGH, f"{words(PASSED_THROUGH)}: you returned the incoming gradient `grad` as it "
                    "is. Multiply it by this operation's local derivative (chain rule).")
    if same(mine, local) and not same(expected, local):
        return Slip(NO_INCOMING, f"{words(NO_INCOMING)}: you returned d(output)/d(input) alone. The chain rule "
                    "multiplies it by the gradient arriving from above: `grad * ...`.")
    if not general or mine.shape != expected.shape:
        return None
    if same(-mine, expected) and not same(expected, 0 * expected):
        return Slip(SIGN, f"{words(SIGN)}: your gradient is exactly minus torch's. Check the sign of the derivative.")
    factor = constant_factor(mine, expected, rtol)
    if factor is not None:
        return Slip(FACTOR, f"{words(FACTOR)}: yours is {factor} everywhere. Look for a missing or extra factor "
                    "in the derivative.")
    return None


def explain_pair(mine, expected):
    """The ``Slip`` for two gradients handed back in the wrong order, or None."""
    if len(mine) != 2 or len(expected) != 2 or agrees(expected[0], expected[1]):
        return None
    if agrees(mine[0], expected[1]) and agrees(mine[1], expected[0]):
        return Slip(SWAPPED, f"{words(SWAPPED)}: your gradient for the first input is torch's for the second, "
                    "and the other way round. Return them in the order of forward's inputs.")
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
