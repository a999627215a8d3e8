"""The torch objects notebook 11's exercises run on, built from plain data by one piece of code on
both sides of the pipe: in the judge's torch worker (for the learner's function) and in the judge
itself (for torch's answer), so both see the same function and the same critic.

Torch is imported only when one is built: the torch-free worker imports this package without it.
Nothing here computes an answer to an exercise.
"""

import numpy as np


def scalar_function(params):
    """``f(x) = c . tanh(W x) + sum(a * exp(x)) / 3`` for a 1-D float64 ``x``, from ``params = (W, a, c)``:
    its Hessian has off-diagonal entries (through W) and nonzero higher derivatives, so a finite
    difference of gradients is measurably an approximation."""
    import torch
    w, a, c = (torch.as_tensor(np.asarray(p, dtype=np.float64)) for p in params)

    def f(x):
        return c @ torch.tanh(w @ x) + (a * torch.exp(x)).sum() / 3
    return f


def critic(weights):
    """A tiny critic, ``Linear(d, h) -> Tanh -> Linear(h, 1)`` in float64, with ``weights = (W1, b1, W2, b2)``
    in ``nn.Linear``'s layout (W1 has shape (h, d))."""
    import torch
    w1 = np.asarray(weights[0])
    net = torch.nn.Sequential(torch.nn.Linear(w1.shape[1], w1.shape[0]), torch.nn.Tanh(),
                              torch.nn.Linear(w1.shape[0], 1)).double()
    with torch.no_grad():
        for parameter, value in zip(net.parameters(), weights):
            parameter.copy_(torch.as_tensor(np.asarray(value, dtype=np.float64)))
    return net


def untorch(value, depth=0):
    """Torch tensors in what a learner's function returned, as numpy arrays (the codec knows no torch)."""
    import torch
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, list | tuple) and depth < 5:
        return type(value)(untorch(v, depth + 1) for v in list(value)[:100])
    return value
