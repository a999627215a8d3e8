"""``torch.nn``'s building blocks: ``Parameter``, ``Module`` (which finds the parameters of a model
by walking its attributes), ``Linear``, ``Sequential`` and the activation layers.

A module holds no autograd of its own: ``forward`` is made of the engine's operations, so a
model's gradients come from the same backward pass as everything else.
"""

import math
from collections import OrderedDict

import numpy as np

from .. import functions
from ..compat import ONLY_FLOAT_GRAD, TORCH_TYPE_NAMES, check_matmul
from ..engine import Function, Tensor
from . import functional


class Parameter(Tensor):
    """A tensor a module learns: a leaf that requires grad, sharing the memory of the tensor it wraps."""

    def __init__(self, data=None, requires_grad=True):
        array = np.empty(0, np.float32) if data is None else data._array
        if requires_grad and array.dtype.kind not in "fc":
            raise RuntimeError(ONLY_FLOAT_GRAD)  # (torch's Parameter words it as torch.tensor(...) does)
        self._array, self._grad, self.grad_fn, self._accumulator = array, None, None, None
        self._requires_grad = bool(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """The base of every layer and model: assigning a ``Parameter`` or a ``Module`` to an attribute
    registers it, so ``parameters()`` finds every weight however deeply the model nests."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if isinstance(value, Parameter | Module) and "_parameters" not in vars(self):
            kind = "parameters" if isinstance(value, Parameter) else "module"
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if isinstance(value, Parameter) or (value is None and name in vars(self).get("_parameters", {})):
            self._parameters[name] = value
        elif name in vars(self).get("_parameters", {}):
            raise TypeError(f"cannot assign '{_type_name(value)}' as parameter '{name}' (torch.nn.Parameter or None "
                            "expected)")
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # only called when ordinary lookup fails
        for registry in ("_parameters", "_modules"):
            found = vars(self).get(registry, {})
            if name in found:
                return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def forward(self, *inputs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *inputs, **options):
        return self.forward(*inputs, **options)

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        for path, module in self.named_modules(prefix) if recurse else [(prefix, self)]:
            for name, p in module._parameters.items():
                if p is not None and id(p) not in seen:  # a weight shared by two layers counts once
                    seen.add(id(p))
                    yield (f"{path}.{name}" if path else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self):
        yield from self._modules.values()

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient: ``None`` (the default, as in torch), or zeros in place."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._array[...] = 0

    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def state_dict(self):
        return OrderedDict((name, p.detach()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict):
        own = dict(self.named_parameters())
        missing, unexpected = [k for k in own if k not in state_dict], [k for k in state_dict if k not in own]
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: missing keys "
                               f"{missing}, unexpected keys {unexpected}")
        for name, p in own.items():
            p._array[...] = state_dict[name]._array  # copied into the parameter's own memory, as torch's copy_
        return None

    def extra_repr(self):
        return ""

    def __repr__(self):  # torch's layout: one line per child, indented under the parent
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "".join(f"  {line}\n" for line in lines) + ")"


def _type_name(value):
    if isinstance(value, Tensor):
        return f"torch.{TORCH_TYPE_NAMES[value._array.dtype.name]}Tensor"
    return type(value).__name__


class Addmm(Function):
    """``bias + x @ w`` in one node, as torch computes ``nn.Linear`` on a batch (``w`` is the weight, transposed)."""
    node_name = "AddmmBackward0"
    saved_for = {2: (1,), 1: (2,)}

    @staticmethod
    def forward(ctx, bias, x, w):
        ctx.save_for_backward(x, w)
        return x @ w + bias

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        need_bias, need_x, need_w = ctx.needs_input_grad
        return grad if need_bias else None, grad @ w.T if need_x else None, x.T @ grad if need_w else None


# the C++ type names torch's matmul shows in its dtype refusal
_C_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int", "int32": "int",
                 "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


def _check_linear_dtypes(input, weight, bias):  # noqa: A002 - torch's name
    """torch converts nothing in a linear layer: a float64 (or int) batch into a float32 layer is refused."""
    weight_type = weight._array.dtype
    if bias is None:
        if input._array.dtype != weight_type:  # torch's matmul does the work, and words the refusal
            raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                               f"{_C_TYPE_NAMES[input._array.dtype.name]} != {_C_TYPE_NAMES[weight_type.name]}")
        return
    for role, t in (("self", bias), ("mat1", input)):  # (torch checks the bias first)
        if t._array.dtype != weight_type:
            raise RuntimeError(f"{role} and mat2 must have the same dtype, but got "
                               f"{TORCH_TYPE_NAMES[t._array.dtype.name]} and {TORCH_TYPE_NAMES[weight_type.name]}")


def linear(input, weight, bias=None):  # noqa: A002 - torch's name
    """``input @ weight.T + bias`` over the last dim of ``input``."""
    _check_linear_dtypes(input, weight, bias)
    if bias is None:
        return input.matmul(weight.t())
    rows = input if input.ndim == 2 else input.reshape(-1, input.shape[-1])
    check_matmul(rows._array.shape, weight._array.shape[::-1])
    out = Addmm.apply(bias, rows, weight.t())
    return out if input.ndim == 2 else out.view(*input.shape[:-1], weight.shape[0])


class Linear(Module):
    """``y = x @ weight.T + bias``, initialised as torch does: uniform in ±1/sqrt(in_features) (from
    the engine's own generator: the same distribution as torch's, not the same numbers)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features) if in_features else 0
        self.weight = Parameter(_uniform((out_features, in_features), bound, dtype))
        self.bias = Parameter(_uniform((out_features,), bound, dtype)) if bias else None

    def __setattr__(self, name, value):
        if name == "bias" and value is None and "bias" not in self._parameters:  # bias=False: registered as None
            self._parameters["bias"] = None
            return
        super().__setattr__(name, value)

    def forward(self, input):  # noqa: A002 - torch's name
        return linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _uniform(shape, bound, dtype):
    return functions.rand(*shape, dtype=dtype) * (2 * bound) - bound


class Sequential(Module):
    """Its modules, called one after another."""

    def __init__(self, *modules):
        super().__init__()
        named = modules[0].items() if len(modules) == 1 and isinstance(modules[0], OrderedDict) else (
            (str(i), m) for i, m in enumerate(modules))
        for name, module in named:
            setattr(self, name, module)

    def forward(self, input):  # noqa: A002 - torch's name
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return Sequential(*modules[index]) if isinstance(index, slice) else modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        setattr(self, str(len(self)), module)
        return self


class ReLU(Module):
    def forward(self, input):  # noqa: A002 - torch's name
        return input.relu()


class Sigmoid(Module):
    def forward(self, input):  # noqa: A002 - torch's name
        return input.sigmoid()


class Tanh(Module):
    def forward(self, input):  # noqa: A002 - torch's name
        return input.tanh()


# -- losses: modules holding the ``reduction`` (and ``weight``) of their functional form --

class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction


class MSELoss(_Loss):
    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                           reduction=self.reduction, pos_weight=self.pos_weight)


class CrossEntropyLoss(_Loss):
    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.cross_entropy(input, target, reduction=self.reduction)
