"""Checks for the two units that are about the graph as a whole: the backward pass, and grad mode.

backward_pass: graphs made of grader-written Functions (``autograder.worker.drivers``: numpy
forward and backward, named like torch's nodes), so no learner op rule is involved; the
learner's ``run_backward``/``topological_order`` must give every leaf torch's gradient, add up
across repeated ``backward(retain_graph=True)`` calls, and free the graph otherwise. The hidden
check has one graph of every family (``family_graphs``) on every run, then random ones
(chains, diamonds, several leaves, constants, non-scalar roots). When a leaf is wrong,
``where_it_parts`` names the first node, from the root down, whose incoming gradient differs.

grad_mode: programs of nested and re-entered ``with no_grad()`` / ``with enable_grad()`` blocks,
decorated functions, exceptions thrown through blocks and ``set_grad_enabled`` calls, run with
torch here and with the learner's engine by the driver; ``is_grad_enabled()`` (its exact value
and type: torch's is a bool), whether an op records and its ``requires_grad`` are compared at
every ``see(k)``.
"""

import numpy as np
import torch

from autograder.checking import slips
from autograder.checking.engine_checks import random_shape, uniform
from autograder.checking.slips import agrees, show
from autograder.worker import drivers

F64 = torch.float64

# --------------------------------------------------------------------------
# backward_pass
# --------------------------------------------------------------------------

TORCH_OPS = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sin": torch.sin, "cos": torch.cos,
    "add_cut": lambda a, b: a + b.detach(),
    "square": lambda a: a ** 2, "sigmoid": torch.sigmoid, "sum": lambda a: a.sum(),
}
# op -> (torch's node name, does the node save tensors (so a second backward fails), does it send
# None to a constant input)
NODES = {"add": ("AddBackward0", False, False), "add_cut": ("AddBackward0", False, False),
         "mul": ("MulBackward0", True, True), "sin": ("SinBackward0", True, False),
         "cos": ("CosBackward0", True, False),
         "square": ("PowBackward0", True, False), "sigmoid": ("SigmoidBackward0", True, False),
         "sum": ("SumBackward0", False, False)}
# op -> each input's local derivative at the step's input values (elementwise; None: no gradient)
LOCAL = {"add": lambda a, b: (torch.ones_like(a), torch.ones_like(b)),
         "add_cut": lambda a, b: (torch.ones_like(a), None),
         "mul": lambda a, b: (b, a), "sin": lambda a: (torch.cos(a),), "cos": lambda a: (-torch.sin(a),),
         "square": lambda a: (2 * a,),
         "sigmoid": lambda a: (torch.sigmoid(a) * (1 - torch.sigmoid(a)),), "sum": lambda a: (torch.ones_like(a),)}
ARITY = {"add": 2, "mul": 2, "add_cut": 2, "sin": 1, "cos": 1, "square": 1, "sigmoid": 1, "sum": 1}
TEXT = {"add": "{0} + {1}", "mul": "{0} * {1}", "add_cut": "{0} + {1}.detach()", "sin": "sin({0})", "cos": "cos({0})",
        "square": "{0} ** 2", "sigmoid": "sigmoid({0})", "sum": "{0}.sum()"}


class Graph:
    """Leaves (values, requires_grad, name), then steps ``(op, input indices)``; the last step is the root."""

    def __init__(self, leaves, steps, gradient=None, summary=None):
        self.leaves, self.steps, self.gradient = leaves, steps, gradient
        self.summary = summary  # a few lines of Python standing for a graph too long to print

    def build(self):
        """The graph in torch: every value, leaves first."""
        values = [torch.tensor(v, dtype=F64, requires_grad=g) for v, g, _ in self.leaves]
        for op, inputs in self.steps:
            values.append(TORCH_OPS[op](*(values[i] for i in inputs)))
        return values

    def plain(self):
        """What the backward_pass driver builds the same graph from: leaves, and per step its op, inputs,
        torch's node name and what that node saves, and each input's local derivative at this graph's
        values (torch's, so the worker holds no derivative of its own)."""
        values = [v.detach() for v in self.build()]
        steps = []
        for op, inputs in self.steps:
            name, saves, none_for_constants = NODES[op]
            steps.append({"op": op, "inputs": list(inputs), "node_name": name, "saves": saves,
                          "none_for_constants": none_for_constants,
                          "local": [None if d is None else d.numpy() for d in LOCAL[op](*(values[i] for i in inputs))]})
        return {"leaves": [[np.asarray(v, dtype=np.float64), g] for v, g, _ in self.leaves], "steps": steps,
                "gradient": None if self.gradient is None else np.asarray(self.gradient, dtype=np.float64)}

    @property
    def leaves_count(self):
        return len(self.leaves)

    def describe(self, index):
        """``v3 (v2 * x)`` or ``x``: a value of the graph, for messages."""
        names = self.names()
        if index < len(self.leaves):
            return f"AccumulateGrad ({names[index]})"
        op, inputs = self.steps[index - len(self.leaves)]
        return f"{names[index]} ({TEXT[op].format(*(names[i] for i in inputs))})"

    def names(self):
        return [name for _, _, name in self.leaves] + [f"v{k}" for k in range(1, len(self.steps) + 1)]

    def text(self):
        if self.summary:
            return "\n".join("      " + line for line in self.summary.splitlines())
        names = self.names()
        lines = [f"{name} = tensor({show(v)}{', requires_grad=True' if g else ''})" for v, g, name in self.leaves]
        for k, (op, inputs) in enumerate(self.steps):
            lines.append(f"{names[len(self.leaves) + k]} = " + TEXT[op].format(*(names[i] for i in inputs)))
        lines += [self.backward_text(True), self.backward_text(False), self.backward_text(False) + "  # must fail"]
        return "\n".join("      " + line for line in lines)

    def backward_text(self, retain):
        gradient = "" if self.gradient is None else f"gradient={show(self.gradient)}"
        options = ", ".join(x for x in (gradient, "retain_graph=True" if retain else "") if x)
        return f"{self.names()[-1]}.backward({options})"


def random_graph(rng, shape):
    n_leaves, n_constants = int(rng.integers(1, 4)), int(rng.integers(0, 2))
    leaves = [(uniform(rng, shape, -1.5, 1.5), True, f"x{k}") for k in range(n_leaves)]
    leaves += [(uniform(rng, shape, -1.5, 1.5), False, f"c{k}") for k in range(n_constants)]
    steps, reused = [], False
    uses = [0] * len(leaves)
    for k in range(int(rng.integers(3, 8))):
        op = str(rng.choice(["add", "mul", "sin", "square", "sigmoid", "mul", "add"]))
        first = 0 if k == 0 else len(leaves) + k - 1  # a chain, so the root depends on a leaf
        inputs = [first] + [int(rng.integers(0, len(leaves) + k)) for _ in range(ARITY[op] - 1)]
        for i in inputs:
            uses[i] += 1
            reused |= uses[i] > 1 and (i >= len(leaves) or leaves[i][1])
        uses.append(0)
        steps.append((op, inputs))
    if not reused:  # make sure some value reaches the root along two paths
        steps.append(("mul", [len(leaves) + len(steps) - 1, len(leaves) + len(steps) - 2]))
    gradient = None
    if shape and rng.random() < 0.5:
        steps.append(("sum", [len(leaves) + len(steps) - 1]))
    elif shape:
        gradient = rng.normal(size=shape)
    elif rng.random() < 0.5:
        gradient = np.array(rng.normal())
    return Graph(leaves, steps, gradient)


def seed_graphs():
    """The notebooks' three example computations: x ** 2 at 3, sin(x ** 2) at 4, and sigmoid(w * x + b)."""
    return [
        ("the notebook's example: y = x ** 2 at x = 3", Graph([(np.array(3.0), True, "x")], [("square", [0])])),
        ("the notebook's example: z = sin(x ** 2) at x = 4",
         Graph([(np.array(4.0), True, "x")], [("square", [0]), ("sin", [1])])),
        ("the notebook's neuron: sigmoid(w * x + b) at x = 6.7, w = 1, b = 0",
         Graph([(np.array(1.0), True, "w"), (np.array(0.0), True, "b"), (np.array(6.7), False, "x")],
               [("mul", [0, 2]), ("add", [3, 1]), ("sigmoid", [4])])),
        ("x and v1 reach the root along paths of different lengths",
         Graph([(np.array([0.5, -1.2, 2.0]), True, "x"), (np.array([1.5, 0.5, -0.5]), False, "c")],
               [("sin", [0]), ("square", [2]), ("mul", [3, 0]), ("add", [4, 2]), ("mul", [5, 1])],
               gradient=np.array([1.0, -2.0, 0.5]))),
    ]


def family_graphs(rng, shape):
    """One graph of each family every hidden check includes, with fresh random values: a constant used
    twice whose gradients are None (Mul) or real arrays with nowhere to go (Add): a None next function
    and a None gradient must both be skipped; a leaf sent None along one path and a gradient along
    another; a shared subgraph feeding three later steps; a root of
    the random shape, given a gradient when it is not a single number."""
    def leaf(name, requires=True):
        return uniform(rng, shape, -1.5, 1.5), requires, name
    gradient = rng.normal(size=shape) if shape else None
    return [
        ("a constant c: Mul's gradient for it is None, its next function is None",
         Graph([leaf("x"), leaf("c", False)], [("mul", [0, 1]), ("sin", [2]), ("mul", [3, 1])], gradient)),
        ("a constant c: Add sends it a gradient, but its next function is None",
         Graph([leaf("x"), leaf("c", False)], [("add", [0, 1]), ("square", [2]), ("add", [3, 1])], gradient)),
        ("along one path y gets a None gradient (y.detach()), along the other a real one",
         Graph([leaf("x"), leaf("y")], [("add_cut", [0, 1]), ("sigmoid", [2]), ("mul", [3, 1])], gradient)),
        ("a shared subgraph: v2 = sin(x * y) feeds three later steps",
         Graph([leaf("x"), leaf("y")], [("mul", [0, 1]), ("sin", [2]), ("mul", [3, 3]), ("add", [4, 3]),
                                        ("mul", [5, 3])], gradient)),
    ]


def shared_array_graph(rng):
    """``a = sin(q); ((a + cos(q)) + a)``: each add hands one array to both its inputs (as an engine's
    Add.backward does), so a backward pass that sums arriving gradients in place (``pending[n] += g``)
    changes what another edge also holds (at q = 0.3: 1.3196 instead of torch's 1.6152)."""
    shape = random_shape(rng, 0, 1, 3)
    q = rng.uniform(0.2, 1.2, size=shape)
    return ("a = sin(q) reaches the root along two paths; each add hands one array to both its inputs",
            Graph([(q, True, "q")], [("sin", [0]), ("cos", [0]), ("add", [1, 2]), ("add", [3, 1])],
                  rng.normal(size=shape) if shape else None))


def deep_chain_graph(rng):
    """A chain deeper than Python's recursion limit (about 1000 calls), like notebook 02's long chain:
    a recursive topological sort fails on it."""
    depth = int(rng.integers(3000, 4001))
    x, c = rng.uniform(0.5, 1.5), rng.uniform(-0.01, 0.01)
    steps = [("add", [0 if k == 0 else k + 1, 1]) for k in range(depth)] + [("square", [depth + 1])]
    summary = (f"x = tensor({show(x)}, requires_grad=True); c = tensor({show(c)})\n"
               f"v = x\nfor _ in range({depth}):\n    v = v + c\n(v ** 2).backward(...)  "
               f"# {depth + 1} nodes deep, deeper than Python's recursion limit")
    return (f"a chain {depth + 1} nodes deep", Graph([(np.array(x), True, "x"), (np.array(c), False, "c")], steps,
                                                     summary=summary))


RECURSION_HINT = ("this graph is deeper than Python's recursion limit (about 1000 nested calls), as notebook 02's "
                  "long chain is: walk the graph with a loop and a list used as a stack, not with recursion")


def backward_pass(t):
    cases = seed_graphs() if not t.hidden else family_graphs(t.rng, random_shape(t.rng, 1, 2, 4))
    if t.hidden:  # on every run: one array on two edges, and a graph deeper than the recursion limit
        cases += [shared_array_graph(t.rng), deep_chain_graph(t.rng)]
    cases += [("", random_graph(t.rng, random_shape(t.rng, 1, 2, 4) if t.hidden else (3,)))
              for _ in range(1 if not t.hidden else 6)]
    for where, graph in cases:
        t.case("this graph\n" + graph.text() + (f"\n      ({where})" if where else ""))
        seen = t.run("backward_pass", what="graph (building it with your engine's Function.apply)",
                     **graph.plain())
        theirs = graph.build()
        gradient = graph.gradient
        for calls, retain in enumerate((True, False), 1):
            theirs[-1].backward(None if gradient is None else torch.tensor(gradient), retain_graph=retain)
            if len(seen["calls"]) < calls:
                raised = seen["raised"]
                t.report_raised(raised, what=f"backward pass ({graph.backward_text(retain)}, call {calls})",
                                hint=RECURSION_HINT if raised.get("type") == "RecursionError" else
                                "with retain_graph=True nothing may be freed; and each node is visited once, "
                                "after all the gradients for it have arrived (topological order)")
            compare_leaves(t, graph, seen["calls"][calls - 1], theirs, calls, seen["trace"])
        expected = _second_backward_error(theirs[-1], None if gradient is None else torch.tensor(gradient))
        if seen["third"] != expected:
            t.fail(f"after {graph.backward_text(False)} the graph is freed: one more backward should fail as "
                   f"torch's does, with {expected!r}; yours gave {seen['third']!r}. Unless retain_graph is true, "
                   "release each node after using it (node.release())")


def where_it_parts(graph, trace):
    """The first node, from the root down, whose incoming gradient in the learner's first backward call
    differs from torch's, and why (the nodes' own rules are the grader's, so only the pass can be wrong)."""
    values = graph.build()
    for value in values[len(graph.leaves):]:
        if value.requires_grad:
            value.retain_grad()
    gradient = graph.gradient
    values[-1].backward(None if gradient is None else torch.tensor(gradient))
    names, order = graph.names(), trace["order"]
    for index in reversed(range(len(values))):
        expected = values[index].grad
        if expected is None or (index < len(graph.leaves) and not graph.leaves[index][1]):
            continue
        expected, got = expected.numpy(), trace["received"][index]
        what = graph.describe(index)
        if got is None:
            return slips.Slip(slips.GRAPH_CUT, f"your backward pass never reached {what}; torch sends it "
                              f"{show(expected)}")
        if isinstance(got, dict) or not agrees(got, expected):
            shown = got.get("repr") if isinstance(got, dict) else show(got)
            users = [graph.leaves_count + k for k, (_, inputs) in enumerate(graph.steps) if index in inputs]
            ran_at = order.index(index)
            late = [u for u in users if u in order and order.index(u) > ran_at]
            if late:
                return slips.Slip(slips.WRONG_ORDER, f"your backward pass ran {what} before "
                                  f"{graph.describe(late[0])}, which uses its output, had sent its gradient; so "
                                  f"{names[index]} got {shown} instead of {show(expected)}. Visit the nodes in "
                                  "topological order: a node only after every node that uses it")
            if order.count(index) > 1:
                return slips.Slip(slips.WRONG_ORDER, f"your backward pass ran {what} {order.count(index)} times; "
                                  "visit each node once, with the sum of everything sent to it")
            if users:
                return slips.Slip(slips.WRONG_PATHS, f"the gradient arriving at {what} is {shown}, torch's is "
                                  f"{show(expected)}. What its users sent was right, so the backward pass did not "
                                  "add up the gradients arriving along different paths")
            return slips.Slip(slips.WRONG_START, f"the backward pass started at {what} with {shown}, not with the "
                              f"gradient given to backward(), {show(expected)}")
    return None


def _second_backward_error(root, gradient):
    try:
        root.backward(gradient)
    except RuntimeError as error:
        return str(error).splitlines()[0]
    return None


def summed_in_place(graph):
    """Each leaf's gradient after one backward call by a pass that adds the gradients arriving at a node
    with ``+=`` into the array already waiting there (nodes newest first, as the reference visits them):
    where that array is one an add step also handed to another input, the other edge's gradient changes
    too. numpy replays what the driver's steps do; None where the replay itself fails (a read-only array)."""
    values = graph.build()
    n, plain = len(graph.leaves), graph.plain()
    pending = {}

    def send(target, g):
        if target in pending:
            pending[target] += g
        else:
            pending[target] = g
    root = len(values) - 1
    send(root, np.ones(values[root].shape) if graph.gradient is None else np.array(graph.gradient, np.float64))
    try:
        for index in range(root, n - 1, -1):
            if index not in pending:
                continue
            g, step = pending.pop(index), plain["steps"][index - n]
            for i, derivative in zip(step["inputs"], step["local"]):
                if derivative is None or not values[i].requires_grad:
                    continue
                shape = tuple(values[i].shape)
                if step["op"] in ("add", "add_cut") and g.shape == shape:
                    send(i, g)
                elif step["op"] == "sum":
                    send(i, np.broadcast_to(g, shape))
                else:
                    send(i, np.broadcast_to(g, shape) * derivative)
    except ValueError:
        return None
    return [pending.get(i) for i in range(n)]


def compare_leaves(t, graph, grads, theirs, calls, trace):
    for index, ((_, requires, name), got, reference) in enumerate(zip(graph.leaves, grads, theirs)):
        if not requires:
            continue
        expected = None if reference.grad is None else reference.grad.numpy()
        if isinstance(got, dict):
            t.fail(f"{name}.grad after {calls} call(s) of backward is {got['repr']}; it must hold an array")
        if expected is None and got is None or (expected is not None and got is not None and agrees(got, expected)):
            continue
        slip = None
        if expected is not None and got is not None and calls > 1:
            slip = slips.explain(got, expected, known=[(
                slips.NOT_ACCUMULATED, f"{slips.words(slips.NOT_ACCUMULATED)}: after {calls} backward calls "
                f"{name}.grad should be the sum of all of them", expected / calls)], general=False)
        if slip is None and expected is not None and got is not None:
            replayed = summed_in_place(graph)
            wrong = None if replayed is None or replayed[index] is None else replayed[index] * calls
            slip = slips.explain(got, expected, general=False, known=[] if wrong is None else [(
                slips.SUMMED_IN_PLACE, f"{slips.words(slips.SUMMED_IN_PLACE)}: the backward pass added the "
                 "gradients arriving at a node with `+=` "
                "into the array already waiting there; but an add hands one array to both its inputs (Add.backward "
                "returns grad, grad), so that sum changed the gradient another edge holds too. Add into a new "
                "array: `pending[node] = pending[node] + g`", wrong)])
        if slip is None:  # a sign or factor guess could hide a dropped gradient: where_it_parts names it
            slip = where_it_parts(graph, trace)
        t.fail(f"{name}.grad after {calls} call(s) of backward", torch_value=expected, mine=got, slip=slip)


# --------------------------------------------------------------------------
# grad_mode
# --------------------------------------------------------------------------

Boom = drivers.Boom  # thrown through a ``with`` block by a program, caught just outside it


class ProgramWriter:
    """Random programs of grad-mode blocks; ``see(k)`` marks where the mode is compared."""

    def __init__(self, rng):
        self.rng, self.lines, self.sees, self.functions = rng, [], 0, 0

    def see(self, indent):
        self.sees += 1
        self.lines.append(("    " * indent) + f"see({self.sees})")

    def block(self, indent, depth):
        self.see(indent)
        for _ in range(int(self.rng.integers(1, 3))):
            self.statement(indent, depth)

    def statement(self, indent, depth):
        pad = "    " * indent
        kind = str(self.rng.choice(["no_grad", "enable_grad"]))
        choice = int(self.rng.integers(0, 5)) if depth < 3 else 4
        if choice == 0:
            self.lines.append(f"{pad}with lib.{kind}():")
            self.block(indent + 1, depth + 1)
            self.see(indent)
        elif choice == 1:
            self.functions += 1
            name = f"step{self.functions}"
            self.lines += [f"{pad}@lib.{kind}()", f"{pad}def {name}():"]
            self.block(indent + 1, depth + 1)
            self.lines.append(f"{pad}{name}()")
            self.see(indent)
        elif choice == 2:
            self.lines += [f"{pad}try:", f"{pad}    with lib.{kind}():"]
            self.block(indent + 2, depth + 1)
            self.lines += [f"{pad}        raise Boom()", f"{pad}except Boom:"]
            self.see(indent + 1)
        elif choice == 3:
            self.lines.append(f"{pad}lib.set_grad_enabled({bool(self.rng.integers(2))})")
            self.see(indent)
        else:
            self.see(indent)


def random_program(rng):
    writer = ProgramWriter(rng)
    writer.see(0)
    for _ in range(int(rng.integers(2, 4))):
        writer.statement(0, 0)
    return "\n".join(writer.lines)


SEED_PROGRAM = """\
see(1)
with lib.no_grad():
    see(2)
see(3)"""

NESTED_PROGRAM = """\
with lib.no_grad():
    see(1)
    with lib.no_grad():
        see(2)
    see(3)
    with lib.enable_grad():
        see(4)
    see(5)
see(6)

@lib.no_grad()
def predict():
    see(7)
predict()
see(8)
try:
    with lib.no_grad():
        raise Boom()
except Boom:
    see(9)"""


REENTERED_PROGRAM = """\
guard = lib.no_grad()
with guard:
    see(1)
    with guard:
        see(2)
    see(3)
see(4)
keep = lib.enable_grad()
with lib.no_grad():
    with keep:
        see(5)
        with keep:
            see(6)
        see(7)
    see(8)
see(9)"""


def run_program(source):
    """Run a program with torch as ``lib``; what each ``see(k)`` saw, as the grad_mode driver reports it."""
    log = []
    x = torch.tensor([1.0, 2.0], requires_grad=True)

    def see(k):
        y = x * 2
        log.append([k, torch.is_grad_enabled(), y.grad_fn is not None, y.requires_grad])
    try:
        exec(compile(source, "<grad mode program>", "exec"), {"lib": torch, "see": see, "Boom": Boom})
    finally:
        torch.set_grad_enabled(True)
    return log


def grad_mode(t):
    programs = [("the notebook's example: y = x ** 2 inside `with no_grad():`", SEED_PROGRAM)] if not t.hidden else []
    programs += [("nested blocks, a decorator, an exception", NESTED_PROGRAM),
                 ("one no_grad() object entered twice, nested", REENTERED_PROGRAM)]
    programs += [("", random_program(t.rng)) for _ in range(1 if not t.hidden else 6)]
    for where, source in programs:
        t.case("this program (lib is torch, or your engine)\n" + _indented(source)
               + (f"\n      ({where})" if where else ""))
        expected = run_program(source)
        mine = t.run("grad_mode", source=source, what="grad mode (no_grad / enable_grad)")["log"]
        for step, theirs in enumerate(expected):
            yours = mine[step] if step < len(mine) else None
            if yours == theirs and all(type(a) is type(b) for a, b in zip(yours, theirs)):
                continue
            t.current = t.current.replace(f"see({theirs[0]})", f"see({theirs[0]})    <-- here", 1)
            if yours is None or yours[0] != theirs[0]:
                t.fail(f"torch reaches see({theirs[0]}) next; your run reaches "
                       f"{'the end' if yours is None else f'see({yours[0]})'}. An exception inside a "
                       "`with` block must pass through __exit__ (return None from it, not True)")
            what = []
            if yours[1] is not theirs[1]:
                what.append(f"is_grad_enabled() returns {theirs[1]} in torch, {slips.exactly(yours[1])} in yours")
            if yours[2] != theirs[2]:
                what.append("x * 2 " + ("records a grad_fn" if theirs[2] else "records nothing") + " in torch, "
                            + ("not in yours" if theirs[2] else "yours records one"))
            if yours[3] is not theirs[3]:
                what.append(f"(x * 2).requires_grad is {theirs[3]} in torch, {slips.exactly(yours[3])} in yours")
            t.fail(f"at see({theirs[0]}): " + "; ".join(what) + ". __enter__ saves the mode it replaces and "
                   "sets its own (a bool); __exit__ puts the saved one back")
        if len(mine) > len(expected):
            t.fail(f"your run reaches see({mine[len(expected)][0]}), torch's ends before it")


def _indented(source):
    return "\n".join("      " + line for line in source.splitlines())
