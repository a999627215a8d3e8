"""Correct answers to the notebook exercises, written as a learner would, against an engine."""

import math

import numpy as np
import torch


def answers(tinygrad_course):
    """``{exercise: function}``, each using ``tinygrad_course`` (the engine module given)."""

    def dy_dx(x):
        return 2 * x

    def dz_dx(x):
        return 2 * x * math.cos(x ** 2)

    def manual_gradients(x, y, w, b):
        p = 1 / (1 + math.exp(-(w * x + b)))
        if not 1e-8 <= p <= 1 - 1e-8:
            return 0.0, 0.0
        dloss_dp = (p - y) / (p * (1 - p))
        dp_dz = p * (1 - p)
        return dloss_dp * dp_dz * x, dloss_dp * dp_dz

    def mean_square_grad(values):
        return [2 * v / len(values) for v in values]

    def predict_grad(x0, calls, zero_between):
        return 2 * x0 if zero_between else calls * 2 * x0

    def predict(w, b, xs):
        with tinygrad_course.no_grad():
            x = xs if isinstance(xs, tinygrad_course.Tensor) else tinygrad_course.tensor(xs)
            return tinygrad_course.sigmoid(w * x + b)

    def sgd_step(params, lr):
        with tinygrad_course.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad.zero_()

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
            sgd_step([w, b], lr)
        return w, b, losses

    def mlp_forward(params, x):
        w1, b1, w2, b2 = params
        return (x @ w1 + b1).relu() @ w2 + b2

    def train_step(model, params, x, y, lr):
        loss = tinygrad_course.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        sgd_step(params, lr)
        return loss.item()

    def clip_grad_norm(grads, max_norm):
        total = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads))
        scale = min(1.0, max_norm / (total + 1e-6))
        for g in grads:
            g *= scale
        return total

    def layer_grad_norms(weights, x):
        norms = [None] * len(weights)
        h = x
        for k, w in enumerate(weights):
            h = (h @ w).tanh()
            h.register_hook(lambda g, k=k: norms.__setitem__(k, float(np.linalg.norm(g.data))))
        (h ** 2).sum().backward()
        return norms

    def jacobian_rows(f, x):
        y = f(x)
        rows = []
        for i in range(y.shape[0]):
            v = np.zeros(y.shape[0], dtype=np.float32)
            v[i] = 1.0
            (row,) = tinygrad_course.autograd.grad(y, x, grad_outputs=tinygrad_course.tensor(v), retain_graph=True)
            rows.append(row.numpy())
        return np.stack(rows)

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
        out = f(Dual(x, v))
        return out.value, out.tangent
    def hvp(f, x, v):
        g, = torch.autograd.grad(f(x), x, create_graph=True)
        return torch.autograd.grad(g, x, grad_outputs=v)[0]

    def gradient_penalty(critic, x):
        x = x.detach().requires_grad_(True)
        g, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        return ((torch.sqrt((g * g).sum(dim=1)) - 1) ** 2).mean()
    def numerical_gradient(f, x, eps):
        x = np.array(x, dtype=np.float64)
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            kept = x[i]
            x[i] = kept + eps
            high = f(x)
            x[i] = kept - eps
            low = f(x)
            x[i] = kept
            grad[i] = (high - low) / (2 * eps)
        return grad

    return {"manual_dy_dx": dy_dx, "manual_dz_dx": dz_dx, "manual_bce_grads": manual_gradients,
            "manual_mean_square_grad": mean_square_grad, "predict_accumulated_grad": predict_grad,
            "no_grad_inference": predict, "sgd_step": sgd_step, "train_neuron": train_neuron,
            "mlp_forward": mlp_forward, "train_step": train_step, "clip_grad_norm": clip_grad_norm,
            "layer_grad_norms": layer_grad_norms, "jacobian_rows": jacobian_rows, "dual_jvp": jvp,
            "hvp": hvp, "gradient_penalty": gradient_penalty, "numerical_gradient": numerical_gradient}
