"""``torch.nn``'s building blocks: ``Parameter``, ``Module`` (which finds the parameters of a model
by walking its attributes), ``Linear``, ``Sequential`` and the activation layers.

A module holds no autograd of its own: ``forward`` is made of the engine's operations, so a
model's gradients come from the same backward pass as everything else.
"""

import math
import operator
from collections import OrderedDict, namedtuple
from collections.abc import Iterable, Mapping

import numpy as np

from .. import functions
from ..compat import ONLY_FLOAT_GRAD, TORCH_TYPE_NAMES, check_matmul
from ..engine import Function, Tensor, no_grad
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
            if child is not None:  # (a child registered as None, as ModuleList.append(None) does, is skipped)
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self):
        yield from (child for child in self._modules.values() if child is not None)

    def add_module(self, name, module):
        """Register ``module`` (or ``None``) as the child ``name``, with torch's checks."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    register_module = add_module

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

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """Every parameter by its dotted name, as torch lists them: a module's own, then each child's (a weight
        two layers share is listed under both names), detached unless ``keep_vars``."""
        destination = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=destination, prefix=f"{prefix}{name}.", keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy ``state_dict``'s tensors into the parameters of the same names (in place, as torch's ``copy_``), and
        return the keys that were missing or unexpected; with ``strict`` these, and in any case a tensor of another
        shape, raise torch's error listing every problem found."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, errors = [], [], []

        def load(module, local, prefix=""):
            module._load_from_state_dict(local, prefix, missing, unexpected, errors, assign)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = f"{prefix}{name}."
                    load(child, {k: v for k, v in local.items() if k.startswith(child_prefix)}, child_prefix)

        load(self, OrderedDict(state_dict))
        if strict:
            if unexpected:
                errors.insert(0, f"Unexpected key(s) in state_dict: {_quoted(unexpected)}. ")
            if missing:
                errors.insert(0, f"Missing key(s) in state_dict: {_quoted(missing)}. ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    def _load_from_state_dict(self, state_dict, prefix, missing, unexpected, errors, assign):
        """torch's: this module's own parameters from ``state_dict``; the keys under ``prefix`` that name nothing
        here (nor a child) are unexpected."""
        local = {name: p for name, p in self._parameters.items() if p is not None}
        for name, param in local.items():
            key = prefix + name
            if key not in state_dict:
                missing.append(key)
                continue
            given = state_dict[key]
            if not isinstance(given, Tensor):
                errors.append(f'While copying the parameter named "{key}", expected torch.Tensor or Tensor-like '
                              f"object from checkpoint but received {type(given)}")
                continue
            if param.ndim == 0 and given.ndim == 1 and given.shape[0] == 1:  # (a 0.3-era checkpoint's scalars)
                given = given[0]
            if given.shape != param.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {given.shape} from checkpoint, "
                              f"the shape in current model is {param.shape}.")
                continue
            try:
                with no_grad():
                    if assign:  # the checkpoint's tensor itself becomes the parameter
                        if isinstance(given, Parameter):
                            given.requires_grad_(param.requires_grad)
                        else:
                            given = Parameter(given, requires_grad=param.requires_grad)
                        setattr(self, name, given)
                    else:
                        param.copy_(given)
            except Exception as error:  # noqa: BLE001 - reported, as torch reports it
                errors.append(f'While copying the parameter named "{key}", whose dimensions in the model are '
                              f"{param.size()} and whose dimensions in the checkpoint are {given.size()}, an "
                              f"exception occurred : {error.args}.")
        extra = prefix + "_extra_state"  # (torch's key for a module's extra state, which no module here has)
        if extra in state_dict:
            unexpected.append(extra)
        for key in state_dict:
            if key.startswith(prefix) and key != extra:
                head = key[len(prefix):].split(".", 1)
                if (head[0] not in self._modules) if len(head) > 1 else (head[0] not in local):
                    unexpected.append(key)

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


def _typename(value):
    """``torch.typename``: a tensor's type, else the object's (or its class's) qualified name."""
    if isinstance(value, Tensor):
        return _type_name(value)
    module, name = getattr(value, "__module__", "") or "", getattr(value, "__qualname__", None)
    if name is None:
        name = getattr(value, "__name__", None)
    if name is None:
        module, name = type(value).__module__ or "", type(value).__qualname__
    return name if module in ("", "builtins") else f"{module}.{name}"


def _quoted(keys):
    return ", ".join(f'"{key}"' for key in keys)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: shown as torch shows it when nothing is amiss."""
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


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


class LeakyReLU(Module):
    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):  # noqa: A002 - torch's name
        return functional.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class _AlongDim(Module):
    """A module that applies its ``function`` along ``dim`` (torch's LogSoftmax is not a Softmax: siblings here)."""
    function = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002 - torch's name
        return type(self).function(input, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    function = functional.softmax


class LogSoftmax(_AlongDim):
    function = functional.log_softmax


class Identity(Module):
    """Its input, itself; it takes (and ignores) any arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002 - torch's name
        return input


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):  # noqa: A002 - torch's name
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class ModuleList(Module):
    """Modules held in a list, each registered (so ``parameters()`` finds theirs) under its index. No ``forward``:
    a model calls them itself."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index):
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range")
        return str(index + len(self) if index < 0 else index)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[self._index(index)]

    def __setitem__(self, index, module):
        self.add_module(self._index(index), module)

    def __delitem__(self, index):
        keys = [str(k) for k in range(len(self))[index]] if isinstance(index, slice) else [self._index(index)]
        for key in keys:
            del self._modules[key]
        kept = list(self._modules.values())  # renumbered, as torch does
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(kept))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        combined = ModuleList()
        for i, module in enumerate([*self, *other]):
            combined.add_module(str(i), module)
        return combined

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got {type(modules).__name__}")
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def insert(self, index, module):
        for i in range(len(self._modules), index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def __repr__(self):  # torch's: a run of modules that print alike is shown once, "(0-2): 3 x ReLU()"
        if not len(self):
            return f"{type(self).__name__}()"
        runs = []  # [first index, last index, repr]
        for i, module in enumerate(self):
            shown = repr(module)
            if runs and runs[-1][2] == shown:
                runs[-1][1] = i
            else:
                runs.append([i, i, shown])
        lines = [(f"({first}): " if first == last else f"({first}-{last}): {last - first + 1} x ") + shown
                 for first, last, shown in runs]
        return f"{type(self).__name__}(\n  " + "\n  ".join(line.replace("\n", "\n  ") for line in lines) + "\n)"


# -- losses: modules holding the ``reduction`` (and ``weight``) of their functional form --

class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):  # (torch's order: the old flags first)
        super().__init__()
        legacy = size_average is not None or reduce is not None
        self.reduction = functional.legacy_reduction(size_average, reduce) if legacy else reduction


class L1Loss(_Loss):
    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction=reduction)
        self.weight = weight

    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction=reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                           reduction=self.reduction, pos_weight=self.pos_weight)


class CrossEntropyLoss(_Loss):
    def forward(self, input, target):  # noqa: A002 - torch's name
        return functional.cross_entropy(input, target, reduction=self.reduction)
