"""Realistic wrong answers, written the way learners write them: whole ideas, not one-token mutants.

Each entry is a slip a learner makes on purpose-free grounds (a recursive topological sort, `+=` on
an array another edge holds, `self._array *= 0`, `-grad / x`, ...). ``tests/checking/test_slip_corpus.py`` plants
each one and asserts that it loses its exercise on every seed it tries, with ``slip`` (a phrase of the
feedback) naming what went wrong.

ENGINE: ``unit`` (and ``region``, for units with two solution regions) is replaced by ``body`` in the
reference engine (``planted_bugs.plant``). NOTEBOOK: ``source`` defines the learner's function, with
the names tinygrad_course (the engine), math, np and torch.
"""

from autograder.checking import slips

ENGINE = [
    {"unit": "backward_pass", "slip": slips.words(slips.SUMMED_IN_PLACE),
     "idea": "sum arriving gradients in place: `pending[node] += g`, on an array Add also gave another edge",
     "body": """
        pending = {root.grad_fn: grad}
        for node in topological_order(root.grad_fn):
            input_grads = node.apply(pending.pop(node))
            for (next_node, _), g in zip(node.next_functions, input_grads):
                if next_node is None or g is None:
                    continue
                if next_node in pending:
                    pending[next_node] += g
                else:
                    pending[next_node] = g
            if not retain_graph:
                node.release()
        """},
    {"unit": "backward_pass", "region": 2, "slip": "deeper than Python's recursion limit",
     "idea": "a recursive depth-first topological sort (right order, but recursion)",
     "body": """
        order, seen = [], set()

        def visit(node):
            if node in seen:
                return
            seen.add(node)
            for child, _ in node.next_functions:
                if child is not None:
                    visit(child)
            order.append(node)
        visit(start)
        return order[::-1]
        """},
    {"unit": "accumulate_grad", "slip": slips.words(slips.NEW_GRAD),
     "idea": "`self.grad = self.grad + g`: a new tensor each time, so a kept x.grad never sees the sum",
     "body": """
        if leaf.grad is None:
            leaf.grad = Tensor._make(np.array(grad, dtype=leaf._array.dtype))
        else:
            leaf.grad = leaf.grad + grad
        return ()
        """},
    {"unit": "accumulate_grad", "slip": slips.words(slips.NEW_GRAD),
     "idea": "wrap the sum in a new Tensor",
     "body": """
        old = leaf.grad
        total = np.array(grad, dtype=leaf._array.dtype) if old is None else old._array + grad
        leaf.grad = Tensor._make(total)
        return ()
        """},
    {"unit": "accumulate_grad", "slip": slips.words(slips.NEW_GRAD),
     "idea": "a new array in the same tensor: `leaf.grad._array = leaf.grad._array + grad`",
     "body": """
        if leaf.grad is None:
            leaf.grad = Tensor._make(np.array(grad, dtype=leaf._array.dtype))
        else:
            leaf.grad._array = leaf.grad._array + grad
        return ()
        """},
    {"unit": "accumulate_grad", "slip": slips.words(slips.SHARED),
     "idea": "keep the array that arrived as .grad, then add into it",
     "body": """
        if leaf.grad is None:
            leaf.grad = Tensor._make(grad)
        else:
            leaf.grad._array += grad
        return ()
        """},
    {"unit": "accumulate_grad", "slip": "changed the gradient array it was given",
     "idea": "add the old .grad into the arriving array, then store a copy of it",
     "body": """
        if leaf.grad is not None:
            grad += leaf.grad._array
        leaf.grad = Tensor._make(np.array(grad, dtype=leaf._array.dtype))
        return ()
        """},
    {"unit": "zero_", "slip": "multiplying by 0 leaves nan",
     "idea": "`self._array *= 0`: nan * 0 and inf * 0 stay nan",
     "body": """
        self._array *= 0
        return self
        """},
    {"unit": "zero_", "slip": "put a new array in the tensor",
     "idea": "a fresh array of zeros",
     "body": """
        self._array = np.zeros_like(self._array)
        return self
        """},
    {"unit": "zero_", "slip": "return self",
     "idea": "clears in place but returns nothing",
     "body": """
        self._array.fill(0)
        """},
    {"unit": "detach", "slip": "returned the tensor itself",
     "idea": "detach gives back the same tensor",
     "body": """
        return self
        """},
    {"unit": "detach", "slip": "has a copy of the data",
     "idea": "a copy, to be safe",
     "body": """
        return Tensor(self._array.copy())
        """},
    {"unit": "log_backward", "slip": slips.words(slips.SIGN),
     "idea": "`-grad / x`: log's derivative mixed up with 1/x's",
     "body": """
        x, = ctx.saved_tensors
        return -grad / x
        """},
    {"unit": "log_softmax_backward", "slip": "not softmax alone",
     "idea": "`grad - exp(out)`: right only when each row of grad sums to 1",
     "body": """
        out, = ctx.saved_tensors
        return grad - np.exp(out)
        """},
    {"unit": "log_softmax_backward", "slip": "sum to -1",
     "idea": "`grad + exp(out)`: cross_entropy's rows sum to -1, so it looked right there",
     "body": """
        out, = ctx.saved_tensors
        return grad + np.exp(out)
        """},
    {"unit": "sigmoid_backward", "slip": slips.words(slips.WRONG_SAVED),
     "idea": "uses the saved output as if it were x (sigmoid applied again)",
     "body": """
        z, = ctx.saved_tensors
        s = 1 / (1 + np.exp(-z))
        return grad * s * (1 - s)
        """},
    {"unit": "sin_backward", "slip": "changed the incoming gradient array in place",
     "idea": "multiply the incoming gradient in place",
     "body": """
        x, = ctx.saved_tensors
        grad *= np.cos(x)
        return grad
        """},
    {"unit": "neg_backward", "slip": "changed the incoming gradient array in place",
     "idea": "negate in place: `grad *= -1`",
     "body": """
        grad *= -1
        return grad
        """},
    {"unit": "pow_backward", "slip": "changed the array of its input x in place",
     "idea": "lower the saved power in place: that array holds x's numbers",
     "body": """
        x, = ctx.saved_tensors
        n = ctx.exponent
        x **= n - 1
        return grad * n * x
        """},
    {"unit": "mul_backward", "slip": slips.words(slips.WRONG_SAVED),
     "idea": "each input's gradient uses itself instead of the other input",
     "body": """
        a, b = ctx.saved_tensors
        return grad * a, grad * b
        """},
    {"unit": "sub_backward", "slip": slips.words(slips.SIGN),
     "idea": "subtraction treated like addition",
     "body": """
        return grad, grad
        """},
    {"unit": "sum_to_shape", "slip": slips.words(slips.NOT_REDUCED),
     "idea": "sums only the leading axes broadcasting added, forgets the stretched size-1 axes",
     "body": """
        while grad.ndim > len(shape):
            grad = grad.sum(axis=0)
        return grad
        """},
    {"unit": "mean_backward", "slip": "did not divide by the number of elements averaged",
     "idea": "spreads grad over x but forgets the 1/n",
     "body": """
        grad = _restore_reduced_dims(grad, ctx)
        return np.broadcast_to(grad, ctx.shape)
        """},
    {"unit": "clamp_backward", "slip": "exactly equal to a bound",
     "idea": "strict comparisons at the bounds",
     "body": """
        x, = ctx.saved_tensors
        low = -np.inf if ctx.min is None else ctx.min
        high = np.inf if ctx.max is None else ctx.max
        return np.where((low < x) & (x < high), grad, 0)
        """},
    {"unit": "softplus_backward", "slip": slips.words(slips.EXP_OVERFLOW),
     "idea": "sigmoid written as exp(x) / (1 + exp(x)), right on paper, nan once exp overflows",
     "body": """
        x, = ctx.saved_tensors
        z = ctx.beta * x
        return grad * np.exp(z) / (1 + np.exp(z))
        """},
    {"unit": "softplus_backward", "slip": "forward returned x itself",
     "idea": "sigmoid's slope everywhere, ctx.threshold never read: right only while beta * x stays below it",
     "body": """
        x, = ctx.saved_tensors
        z = ctx.beta * x
        e = np.exp(-np.abs(z))
        return grad * np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        """},
    {"unit": "softplus_backward", "slip": "softplus' derivative is sigmoid itself",
     "idea": "differentiates sigmoid instead of softplus: the rule learnt in notebook 03, one level too deep",
     "body": """
        x, = ctx.saved_tensors
        s = 1 / (1 + np.exp(-ctx.beta * x))
        return grad * s * (1 - s)
        """},
]

NOTEBOOK = [
    {"exercise": "clip_grad_norm", "slip": "clipped each tensor by its own norm",
     "idea": "clips tensor by tensor, as if each had its own budget",
     "source": """
        def clip_grad_norm(grads, max_norm):
            total = 0.0
            for g in grads:
                norm = float(np.linalg.norm(g))
                total += norm ** 2
                if norm > max_norm:
                    g *= max_norm / norm
            return total ** 0.5
        """},
    {"exercise": "clip_grad_norm", "slip": "the gradients were not changed",
     "idea": "rebinds the loop variable (`g = g * scale`), so the caller's arrays never change",
     "source": """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
            if total > max_norm:
                for g in grads:
                    g = g * (max_norm / total)
            return total
        """},
    {"exercise": "layer_grad_norms", "slip": "bind it as a default argument",
     "idea": "a hook lambda in a loop that reads the loop variable late",
     "source": """
        def layer_grad_norms(weights, x):
            norms = [None] * len(weights)
            h = x
            for k, w in enumerate(weights):
                h = (h @ w).tanh()
                h.register_hook(lambda g: norms.__setitem__(k, float(np.sqrt((g.numpy() ** 2).sum()))))
            (h ** 2).sum().backward()
            return norms
        """},
    {"exercise": "layer_grad_norms", "slip": "last layer first",
     "idea": "records with a closure that appends, as hooks fire",
     "source": """
        def layer_grad_norms(weights, x):
            seen = []

            def record(grad):
                seen.append(float(np.linalg.norm(grad.data)))
            h = x
            for w in weights:
                h = tinygrad_course.tanh(h @ w)
                h.register_hook(record)
            loss = (h ** 2).sum()
            loss.backward()
            return seen
        """},
    {"exercise": "sgd_step", "slip": "put a new array in the parameter",
     "idea": "a new array bound to p.data instead of an in-place update",
     "source": """
        def sgd_step(params, lr):
            for p in params:
                p.data = p.data - lr * p.grad.data
                p.grad.zero_()
        """},
    {"exercise": "train_step", "slip": "a new array after the step",
     "idea": "the same, inside a training step",
     "source": """
        def train_step(model, params, x, y, lr):
            loss = tinygrad_course.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            for p in params:
                p.data = p.data - lr * p.grad.data
                p.grad.zero_()
            return loss.item()
        """},
    {"exercise": "predict_accumulated_grad", "slip": slips.words(slips.NOT_ACCUMULATED),
     "idea": "forgets that backward() adds to .grad",
     "source": """
        def predict_grad(x0, calls, zero_between):
            return 2 * x0
        """},
    {"exercise": "sgd_step", "slip": slips.words(slips.CLEARED_FIRST),
     "idea": "clears each gradient first, then steps with the zero it just made",
     "source": """
        def sgd_step(params, lr):
            with tinygrad_course.no_grad():
                for p in params:
                    p.grad.zero_()
                    p -= lr * p.grad
        """},
    {"exercise": "train_neuron", "slip": slips.words(slips.CLEARED_FIRST),
     "idea": "the training loop zeroes the gradients between backward() and the update",
     "source": """
        def train_neuron(xs, ys, epochs, lr):
            x, y = tinygrad_course.tensor(xs), tinygrad_course.tensor(ys)
            w = tinygrad_course.tensor(0.0, requires_grad=True)
            b = tinygrad_course.tensor(0.0, requires_grad=True)
            losses = []
            for _ in range(epochs):
                p = tinygrad_course.clamp(tinygrad_course.sigmoid(w * x + b), 1e-8, 1 - 1e-8)
                loss = (-(y * tinygrad_course.log(p) + (1 - y) * tinygrad_course.log(1 - p))).mean()
                losses.append(loss.item())
                loss.backward()
                w.grad.zero_()
                b.grad.zero_()
                with tinygrad_course.no_grad():
                    w -= lr * w.grad
                    b -= lr * b.grad
            return w, b, losses
        """},
    {"exercise": "train_step", "slip": slips.words(slips.CLEARED_FIRST),
     "idea": "zero_grad in the wrong place: after backward(), before the update",
     "source": """
        def train_step(model, params, x, y, lr):
            loss = tinygrad_course.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tinygrad_course.no_grad():
                for p in params:
                    p.grad = None if p.grad is None else p.grad.zero_()
                    p -= lr * p.grad
            return loss.item()
        """},
    {"exercise": "predict_accumulated_grad", "slip": slips.words(slips.COUNTED),
     "idea": "counts the backward calls after the first, as if the first did not count",
     "source": """
        def predict_grad(x0, calls, zero_between):
            if zero_between:
                return 2 * x0
            return (calls - 1) * 2 * x0
        """},
    {"exercise": "predict_accumulated_grad", "slip": slips.words(slips.COUNTED),
     "idea": "counts the forward pass as one more contribution to x.grad",
     "source": """
        def predict_grad(x0, calls, zero_between):
            return 2 * x0 if zero_between else (calls + 1) * 2 * x0
        """},
    {"exercise": "mlp_forward", "slip": slips.words(slips.TRANSPOSED),
     "idea": "x @ W.T, as with torch's nn.Linear weights",
     "source": """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            return (x @ w1.T + b1).relu() @ w2.T + b2
        """},
    {"exercise": "no_grad_inference", "slip": "part of a graph",
     "idea": "predicts without no_grad",
     "source": """
        def predict(w, b, xs):
            x = xs if isinstance(xs, tinygrad_course.Tensor) else tinygrad_course.tensor(xs)
            return tinygrad_course.sigmoid(w * x + b)
        """},
    {"exercise": "jacobian_rows", "slip": slips.words(slips.JACOBIAN_TRANSPOSED),
     "idea": "stacks the gradients of the outputs as columns",
     "source": """
        def jacobian_rows(f, x):
            y = f(x)
            grads = []
            for i in range(y.shape[0]):
                onehot = np.eye(y.shape[0], dtype=np.float32)[i]
                (g,) = tinygrad_course.autograd.grad(y, x, grad_outputs=tinygrad_course.tensor(onehot),
                                                     retain_graph=True)
                grads.append(g.numpy())
            return np.array(grads).T
        """},
    {"exercise": "jacobian_rows", "slip": slips.words(slips.ROWS_ACCUMULATED),
     "idea": "keeps copies of x.grad but never resets it",
     "source": """
        def jacobian_rows(f, x):
            y = f(x)
            m = y.shape[0]
            J = np.zeros((m, x.shape[0]), dtype=np.float32)
            for i in range(m):
                v = np.zeros(m, dtype=np.float32)
                v[i] = 1
                y.backward(tinygrad_course.tensor(v), retain_graph=True)
                J[i] = x.grad.numpy()
            return J
        """},
    {"exercise": "jacobian_rows", "slip": slips.words(slips.ROW_REPEATED),
     "idea": "builds the one-hot v once, outside the loop",
     "source": """
        def jacobian_rows(f, x):
            y = f(x)
            m = y.shape[0]
            v = np.zeros(m, dtype=np.float32)
            v[0] = 1
            rows = []
            for i in range(m):
                x.grad = None
                y.backward(tinygrad_course.tensor(v), retain_graph=True)
                rows.append(x.grad.numpy().copy())
            return np.stack(rows)
        """},
    {"exercise": "dual_jvp", "slip": slips.words(slips.PRODUCT_RULE),
     "idea": "keeps only the value-times-tangent term of the product rule",
     "source": """
        class Dual:
            def __init__(self, value, tangent):
                self.value, self.tangent = value, tangent

            def __add__(self, other):
                if not isinstance(other, Dual):
                    other = Dual(other, 0.0)
                return Dual(self.value + other.value, self.tangent + other.tangent)
            __radd__ = __add__

            def __mul__(self, other):
                if not isinstance(other, Dual):
                    return Dual(self.value * other, self.tangent * other)
                return Dual(self.value * other.value, self.value * other.tangent)
            __rmul__ = __mul__

            def sin(self):
                return Dual(np.sin(self.value), np.cos(self.value) * self.tangent)

            def exp(self):
                return Dual(np.exp(self.value), np.exp(self.value) * self.tangent)

        def jvp(f, x, v):
            result = f(Dual(x, v))
            return result.value, result.tangent
        """},
    {"exercise": "dual_jvp", "slip": slips.words(slips.TANGENT_IGNORED),
     "idea": "starts the input's tangent at ones, as for a gradient",
     "source": """
        class Dual:
            def __init__(self, value, tangent):
                self.value, self.tangent = value, tangent

            def __add__(self, other):
                other = other if isinstance(other, Dual) else Dual(other, 0.0)
                return Dual(self.value + other.value, self.tangent + other.tangent)
            __radd__ = __add__

            def __mul__(self, other):
                other = other if isinstance(other, Dual) else Dual(other, 0.0)
                return Dual(self.value * other.value, self.tangent * other.value + self.value * other.tangent)
            __rmul__ = __mul__

            def sin(self):
                return Dual(np.sin(self.value), np.cos(self.value) * self.tangent)

            def exp(self):
                return Dual(np.exp(self.value), np.exp(self.value) * self.tangent)

        def jvp(f, x, v):
            result = f(Dual(x, np.ones(x.shape)))
            return result.value, result.tangent
        """},
    # notebook 11: answers written in torch (the names torch, np and math are given)
    {"exercise": "hvp", "slip": slips.words(slips.NO_CREATE_GRAPH),
     "idea": "takes the first gradient as usual, then differentiates it",
     "source": """
        def hvp(f, x, v):
            y = f(x)
            grads = torch.autograd.grad(y, x, retain_graph=True)
            g = grads[0]
            return torch.autograd.grad(g @ v, x)[0]
        """},
    {"exercise": "hvp", "slip": slips.words(slips.FINITE_DIFFERENCE),
     "idea": "a central difference of backward's gradients, eps = 1e-4",
     "source": """
        def hvp(f, x, v):
            eps = 1e-4
            plus = (x + eps * v).detach().requires_grad_()
            minus = (x - eps * v).detach().requires_grad_()
            f(plus).backward()
            f(minus).backward()
            return (plus.grad - minus.grad) / (2 * eps)
        """},
    {"exercise": "hvp", "slip": slips.words(slips.GRADIENT_NOT_HVP),
     "idea": "stops after the first backward with create_graph",
     "source": """
        def hvp(f, x, v):
            y = f(x)
            y.backward(create_graph=True)
            return x.grad
        """},
    {"exercise": "gradient_penalty", "slip": slips.words(slips.NORM_OVER_BATCH),
     "idea": "torch.norm of the whole gradient, as in a one-example sketch",
     "source": """
        def gradient_penalty(critic, x):
            x = x.clone().requires_grad_(True)
            out = critic(x)
            grad = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), create_graph=True)[0]
            return (torch.norm(grad) - 1) ** 2
        """},
    {"exercise": "gradient_penalty", "slip": slips.words(slips.NO_CREATE_GRAPH),
     "idea": "grad_outputs of ones, right norm, but no create_graph",
     "source": """
        def gradient_penalty(critic, x):
            x = x.clone().requires_grad_(True)
            out = critic(x)
            grad = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), retain_graph=True)[0]
            return ((grad.norm(2, dim=1) - 1) ** 2).mean()
        """},
    {"exercise": "gradient_penalty", "slip": slips.words(slips.PENALTY_NOT_SQUARED),
     "idea": "a hinge on the distance to 1, |norm - 1|",
     "source": """
        def gradient_penalty(critic, x):
            x = x.clone().requires_grad_(True)
            grad, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
            return torch.abs(grad.norm(dim=1) - 1).mean()
        """},
    {"exercise": "numerical_gradient", "slip": slips.words(slips.FORWARD_DIFFERENCE),
     "idea": "the textbook definition of the derivative, (f(x + h) - f(x)) / h, one coordinate at a time",
     "source": """
        def numerical_gradient(f, x, eps):
            fx = f(x)
            grad = np.zeros_like(x)
            for i in range(x.size):
                bumped = x.copy().ravel()
                bumped[i] += eps
                grad.ravel()[i] = (f(bumped.reshape(x.shape)) - fx) / eps
            return grad
        """},
    {"exercise": "numerical_gradient", "slip": slips.words(slips.ALL_AT_ONCE),
     "idea": "one central difference with every entry moved by eps, spread over the array",
     "source": """
        def numerical_gradient(f, x, eps):
            return np.ones_like(x) * (f(x + eps) - f(x - eps)) / (2 * eps)
        """},
]
