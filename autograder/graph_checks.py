"""Checks for the two units that are about the graph as a whole: the backward pass, and grad mode.

backward_pass: random graphs -- chains, reused values (diamonds), several leaves, constants,
non-scalar roots given a gradient -- made of checker-written Functions (numpy forward and
backward, named like torch's nodes), so no learner op rule is involved; the learner's
``run_backward``/``topological_order`` must give every leaf torch's gradient, add up across
repeated ``backward(retain_graph=True)`` calls, and free the graph otherwise.

grad_mode: random programs of nested ``with no_grad()`` / ``with enable_grad()`` blocks,
decorated functions, exceptions thrown through blocks and ``set_grad_enabled`` calls, run once
with torch and once with the learner's engine; ``is_grad_enabled()`` and whether an op records
are compared at every ``see(k)``.
"""

import numpy as np
import torch

from autograder import slips
from autograder.diagnose import diagnose
from autograder.slips import agrees, show
from autograder.unit_checks import random_shape, uniform

F64 = torch.float64

# --------------------------------------------------------------------------
# backward_pass
# --------------------------------------------------------------------------

TORCH_OPS = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sin": torch.sin,
    "square": lambda a: a ** 2, "sigmoid": torch.sigmoid, "sum": lambda a: a.sum(),
}
ARITY = {"add": 2, "mul": 2, "sin": 1, "square": 1, "sigmoid": 1, "sum": 1}
TEXT = {"add": "{0} + {1}", "mul": "{0} * {1}", "sin": "sin({0})", "square": "{0} ** 2",
        "sigmoid": "sigmoid({0})", "sum": "{0}.sum()"}


def graph_functions(engine):
    """Functions for the graphs, subclasses of the learner's ``Function`` (whose ``apply`` builds
    the nodes) with forward and backward written here. Each saves what torch's node saves, so
    a second backward fails where torch's fails."""
    base = engine.Function

    class Add(base):
        node_name = "AddBackward0"
        forward = staticmethod(lambda ctx, a, b: a + b)
        backward = staticmethod(lambda ctx, grad: (grad, grad))  # one array for both, as an engine's Add

    class Mul(base):
        node_name = "MulBackward0"

        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            wanted = [node is not None for node, _ in ctx.next_functions]
            return grad * b if wanted[0] else None, grad * a if wanted[1] else None  # None: a constant

    class Sin(base):
        node_name = "SinBackward0"

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sin(x)

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * np.cos(x)

    class Square(base):
        node_name = "PowBackward0"

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * 2 * x

    class Sigmoid(base):
        node_name = "SigmoidBackward0"

        @staticmethod
        def forward(ctx, x):
            out = 1 / (1 + np.exp(-x))
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            out, = ctx.saved_tensors
            return grad * out * (1 - out)

    class Sum(base):
        node_name = "SumBackward0"

        @staticmethod
        def forward(ctx, x):
            ctx.input_shape = x.shape
            return np.asarray(x.sum())

        @staticmethod
        def backward(ctx, grad):
            return np.broadcast_to(grad, ctx.input_shape)  # a read-only view, as an engine's Sum may give

    return {"add": Add, "mul": Mul, "sin": Sin, "square": Square, "sigmoid": Sigmoid, "sum": Sum}


class Graph:
    """Leaves (values, requires_grad, name), then steps ``(op, input indices)``; the last step is the root."""

    def __init__(self, leaves, steps, gradient=None):
        self.leaves, self.steps, self.gradient = leaves, steps, gradient

    def build(self, lib, functions=None):
        if functions is None:
            values = [torch.tensor(v, dtype=F64, requires_grad=g) for v, g, _ in self.leaves]
            ops = TORCH_OPS
        else:
            values = [lib.tensor(np.array(v, dtype=np.float64), requires_grad=g) for v, g, _ in self.leaves]
            ops = {name: function.apply for name, function in functions.items()}
        for op, inputs in self.steps:
            values.append(ops[op](*(values[i] for i in inputs)))
        return values

    def names(self):
        return [name for _, _, name in self.leaves] + [f"v{k}" for k in range(1, len(self.steps) + 1)]

    def text(self):
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
    """The seed's three computations: x ** 2 at 3, sin(x ** 2) at 4, and sigmoid(w * x + b)."""
    return [
        ("the seed: y = x ** 2 at x = 3", Graph([(np.array(3.0), True, "x")], [("square", [0])])),
        ("the seed: z = sin(x ** 2) at x = 4",
         Graph([(np.array(4.0), True, "x")], [("square", [0]), ("sin", [1])])),
        ("the seed's neuron: sigmoid(w * x + b) at x = 6.7, w = 1, b = 0",
         Graph([(np.array(1.0), True, "w"), (np.array(0.0), True, "b"), (np.array(6.7), False, "x")],
               [("mul", [0, 2]), ("add", [3, 1]), ("sigmoid", [4])])),
        ("x and v1 reach the root along paths of different lengths",
         Graph([(np.array([0.5, -1.2, 2.0]), True, "x"), (np.array([1.5, 0.5, -0.5]), False, "c")],
               [("sin", [0]), ("square", [2]), ("mul", [3, 0]), ("add", [4, 2]), ("mul", [5, 1])],
               gradient=np.array([1.0, -2.0, 0.5]))),
    ]


def _second_backward_error(root, gradient):
    try:
        root.backward(gradient)
    except RuntimeError as error:
        return str(error).splitlines()[0]
    return None


def backward_pass(t):
    functions = graph_functions(t.engine)
    cases = seed_graphs() if not t.hidden else []
    cases += [("", random_graph(t.rng, random_shape(t.rng, 1, 2, 4) if t.hidden else (3,)))
              for _ in range(1 if not t.hidden else 8)]
    for where, graph in cases:
        t.case("this graph\n" + graph.text() + (f"\n      ({where})" if where else ""))
        mine = graph.build(t.engine, functions)
        theirs = graph.build(torch)
        gradient = graph.gradient
        for calls, retain in enumerate((True, False), 1):
            t.call(mine[-1].backward, None if gradient is None else np.array(gradient), retain_graph=retain,
                   what=f"backward pass ({graph.backward_text(retain)}, call {calls})",
                   hint="with retain_graph=True nothing may be freed; and each node is visited once, "
                        "after all the gradients for it have arrived (topological order)")
            theirs[-1].backward(None if gradient is None else torch.tensor(gradient), retain_graph=retain)
            compare_leaves(t, graph, mine, theirs, calls, functions)
        expected = _second_backward_error(theirs[-1], None if gradient is None else torch.tensor(gradient))
        yours = t.call(_second_backward_error, mine[-1], None if gradient is None else np.array(gradient),
                       what="a third backward")
        if yours != expected:
            t.fail(f"after {graph.backward_text(False)} the graph is freed: one more backward should fail as "
                   f"torch's does, with {expected!r}; yours gave {yours!r}. Unless retain_graph is true, "
                   "release each node after using it (node.release())")


def compare_leaves(t, graph, mine, theirs, calls, functions):
    for (_, requires, name), leaf, reference in zip(graph.leaves, mine, theirs):
        if not requires:
            continue
        expected = None if reference.grad is None else reference.grad.numpy()
        got = None if leaf.grad is None else np.asarray(leaf.grad.data)
        if expected is None and got is None or (expected is not None and got is not None and agrees(got, expected)):
            continue
        slip = None
        if expected is not None and got is not None and calls > 1:
            slip = slips.explain(got, expected, known=[(
                f"{slips.NOT_ACCUMULATED}: after {calls} backward calls {name}.grad should be the sum of "
                "all of them", expected / calls)])
        if slip is None:
            slip = where_it_parts(t, graph, functions)
        t.fail(f"{name}.grad after {calls} call(s) of backward", torch_value=expected, mine=got, slip=slip)


def where_it_parts(t, graph, functions):
    """The diagnose walker on a fresh copy of the graph: the node where the learner's pass goes wrong."""
    def build(lib):
        values = graph.build(lib, None if lib is torch else functions)
        return values[-1], dict(zip(graph.names(), values))
    found = diagnose(build, engine=t.engine, gradient=graph.gradient)
    return None if found.ok else found.message


# --------------------------------------------------------------------------
# grad_mode
# --------------------------------------------------------------------------

class Boom(Exception):
    """Thrown through a ``with`` block by a program, caught just outside it."""


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


def run_program(source, lib):
    """Run a program with ``lib`` as torch or an engine; what ``see`` saw, in order."""
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)

    def see(k):
        y = x * 2
        log.append((k, bool(lib.is_grad_enabled()), y.grad_fn is not None, bool(y.requires_grad)))
    try:
        exec(compile(source, "<grad mode program>", "exec"), {"lib": lib, "see": see, "Boom": Boom})
    finally:
        lib.set_grad_enabled(True)
    return log


def grad_mode(t):
    programs = [("the seed: y = x ** 2 inside `with no_grad():`", SEED_PROGRAM),
                ("nested blocks, a decorator, an exception", NESTED_PROGRAM)] if not t.hidden else []
    programs += [("", random_program(t.rng)) for _ in range(1 if not t.hidden else 8)]
    for where, source in programs:
        t.case("this program (lib is torch, or your engine)\n" + _indented(source)
               + (f"\n      ({where})" if where else ""))
        expected = run_program(source, torch)
        mine = t.call(run_program, source, t.engine, what="grad mode (no_grad / enable_grad)")
        for step, theirs in enumerate(expected):
            yours = mine[step] if step < len(mine) else None
            if yours == theirs:
                continue
            t.current = t.current.replace(f"see({theirs[0]})", f"see({theirs[0]})    <-- here", 1)
            if yours is None or yours[0] != theirs[0]:
                t.fail(f"torch reaches see({theirs[0]}) next; your run reaches "
                       f"{'the end' if yours is None else f'see({yours[0]})'}. An exception inside a "
                       "`with` block must pass through __exit__ (return None from it, not True)")
            what = [f"is_grad_enabled() is {theirs[1]} in torch, {yours[1]} in yours" if yours[1] != theirs[1]
                    else "", "x * 2 " + ("records a grad_fn" if theirs[2] else "records nothing")
                    + " in torch, " + ("not in yours" if theirs[2] else "yours records one")
                    if yours[2] != theirs[2] else ""]
            t.fail(f"at see({theirs[0]}): " + "; ".join(w for w in what if w) + ". __enter__ saves the "
                   "mode it replaces and sets its own; __exit__ puts the saved one back")
        if len(mine) > len(expected):
            t.fail(f"your run reaches see({mine[len(expected)][0]}), torch's ends before it")


def _indented(source):
    return "\n".join("      " + line for line in source.splitlines())
