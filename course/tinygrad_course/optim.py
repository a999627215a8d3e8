"""``torch.optim``: ``Adam``, step for step the single-tensor loop torch runs on the CPU, so a model
trained here follows the same path as one trained with torch from the same weights.

There is no ``SGD``: its step is notebook 07's exercise ``sgd_step``, and a working one here would
hand every learner that answer.

An optimizer changes each parameter in place, off the graph (torch's ``param.add_`` under
``no_grad``), which counts as a change of its version as it does in torch.
"""

import numpy as np

from .engine import Tensor, count_change


class Optimizer:
    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got torch.{_TYPE_NAMES.get(params._array.dtype.name, 'Float')}Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults, self.state, self.param_groups = defaults, {}, []
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = {**self.defaults, **group, "params": list(group["params"])}
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad._array[...] = 0

    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    state = self.state.setdefault(p, {})
                    new = self._update(p._array, p.grad._array, state, group)
                    p._array[...] = new
                    count_change(p._array)
        return loss

    def __repr__(self):  # torch's layout: each group's options in alphabetical order
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines + [")"])


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long"}


def _check(condition, message):
    if not condition:
        raise ValueError(message)


_FIXED = {"differentiable": False, "foreach": None, "fused": None}  # torch's switches for other kernels


def _only_this_loop(options):
    for name, value in options.items():
        if value:
            raise NotImplementedError(f"{name}={value!r}: tinygrad_course's optimizers run torch's plain "
                                      "single-tensor loop only")
    return dict(_FIXED)


class Adam(Optimizer):
    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check(lr >= 0, f"Invalid learning rate: {lr}")
        _check(eps >= 0, f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):
            _check(0 <= beta < 1, f"Invalid beta parameter at index {i}: {beta}")
        _check(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        fixed = _only_this_loop({"foreach": foreach, "differentiable": differentiable, "fused": fused,
                                 "capturable": capturable})
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "maximize": maximize, "capturable": False,
                                  "decoupled_weight_decay": decoupled_weight_decay, **fixed})

    @staticmethod
    def _update(p, grad, state, group):
        dtype = p.dtype.type
        (beta1, beta2), lr = group["betas"], group["lr"]
        grad = -grad if group["maximize"] else grad
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        if group["weight_decay"]:
            if group["decoupled_weight_decay"]:  # AdamW: shrink the weights themselves
                p = p * dtype(1 - lr * group["weight_decay"])
            else:
                grad = grad + dtype(group["weight_decay"]) * p
        exp_avg = state["exp_avg"] = state["exp_avg"] + dtype(1 - beta1) * (grad - state["exp_avg"])  # lerp
        exp_avg_sq = state["exp_avg_sq"] = state["exp_avg_sq"] * dtype(beta2) + dtype(1 - beta2) * grad * grad
        step = state["step"]
        # the bias corrections in Python floats (float64), as torch works them out
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if group["amsgrad"]:
            exp_avg_sq = state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        denom = np.sqrt(exp_avg_sq) / dtype(bias_correction2_sqrt) + dtype(group["eps"])
        return p + dtype(-step_size) * (exp_avg / denom)


def __getattr__(name):
    # an AttributeError, so hasattr(optim, "SGD") is False as for any missing name, with the reason in it
    if name == "SGD":
        raise AttributeError("tinygrad_course.optim has no SGD: its step (each parameter moved against its "
                             "gradient, in place, with recording off) is notebook 07's exercise sgd_step; "
                             "use your sgd_step instead")
    raise AttributeError(f"module 'tinygrad_course.optim' has no attribute {name!r}")
