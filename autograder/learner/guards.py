"""What keeps a check in a learner's kernel honest: no delegating to torch, no tampering.

These guards are advisory: the kernel also runs the learner's code, so they can be beaten from
inside it. The grade comes from ``autograder.instructor.judge``, where learner code runs in a sandboxed
worker without torch and these guards are not needed.

* ``Watch`` -- a ``sys.setprofile`` guard around the learner's calls: any call into torch's
  code, or into the course's reference engine, is an offence (the answer was not computed by
  the learner). With ``any_engine=True`` calls into any ``tinygrad_course`` engine are too
  (the manual exercises are about doing the calculus yourself).
* ``Integrity`` -- what the checks rely on (torch, numpy, a few builtins, the checker's own
  modules) is captured when the checker is imported and compared, object for object, before
  and after each check. A kernel that reassigned ``torch.allclose``, ``numpy.allclose`` or
  ``autograder.learner.checks.check`` fails loudly instead of passing.

Limits: code that tampers *before* the checker is first imported is caught only when it
replaced a library function with one defined outside the installed packages; C-level patches
and other threads are not detected in the kernel.
"""

import builtins
import gc
import os
import sys
import sysconfig
import types
from pathlib import Path

import numpy as np
import torch
import torch.autograd

from autograder.learner.engines import SOLUTIONS

REFERENCE_PACKAGE = SOLUTIONS / "tinygrad_course"
_MISSING = object()


def _real(filename, known):
    """Where a code file really is, symlinks resolved on both sides of every comparison: venvs, homes
    and course folders are often reached through symlinks (``/tmp`` and ``/var`` on macOS), and a file
    is judged by where its bytes live -- a symlinked venv does not make torch's files untrusted, and a
    learner's file stays the learner's whatever link it is reached through. Names that are not
    absolute paths (``<frozen os>``, ``<string>``) are left as they are. ``known`` caches answers for
    the life of one watch or one snapshot, so a link changed later is looked at afresh."""
    real = known.get(filename)
    if real is None:
        real = known[filename] = os.path.realpath(filename) if os.path.isabs(filename) else filename
    return real


def _real_dir(path):
    return os.path.join(os.path.realpath(path), "")


_TORCH_DIR = _real_dir(Path(torch.__file__).parent)
_REFERENCE_DIR = _real_dir(REFERENCE_PACKAGE)


# --------------------------------------------------------------------------
# Delegation: the learner's code must not hand the work to torch or the reference
# --------------------------------------------------------------------------

class Watch:
    """A profiler around the learner's calls that notes the first call it must not make.

    ``allowed`` are module dicts whose code may run even if it lives in the reference
    folder (the engine under test when it *is* the reference, and code re-bound into it).
    """

    def __init__(self, allowed=(), any_engine=False):
        self.allowed = {id(namespace) for namespace in allowed}
        self.any_engine = any_engine
        self.offence = None
        self._real = {}

    def __enter__(self):
        self._previous, self._gc = _getprofile(), _gc_isenabled()
        _gc_disable()  # a collection could run torch's finalizers inside the watched call
        _setprofile(self._event)
        return self

    def __exit__(self, *exc):
        _setprofile(self._previous)
        if self._gc:
            _gc_enable()

    def _event(self, frame, event, arg):
        if self.offence is not None:
            return
        if event == "call":
            raw = frame.f_code.co_filename
            filename = _real(raw, self._real)
            if filename.startswith(_TORCH_DIR):
                self.offence = f"torch ({frame.f_globals.get('__name__', '?')}.{frame.f_code.co_name})"
            elif filename.startswith(_REFERENCE_DIR) and id(frame.f_globals) not in self.allowed:
                self.offence = "the course's reference engine (solutions/tinygrad_course)"
            elif self.any_engine and filename.endswith(".py") and "tinygrad_course" in (
                    os.path.basename(os.path.dirname(filename)), os.path.basename(os.path.dirname(raw))):
                self.offence = f"the tinygrad_course engine ({frame.f_code.co_name})"
        elif event == "c_call" and _is_torch_builtin(arg):
            self.offence = f"torch ({getattr(arg, '__qualname__', getattr(arg, '__name__', '?'))})"


def _is_torch_builtin(function):
    owner = getattr(function, "__self__", None)
    names = [getattr(function, "__module__", None) or ""]
    if isinstance(owner, types.ModuleType):
        names.append(owner.__name__)
    elif isinstance(owner, type):
        names.append(owner.__module__)
    elif owner is not None:
        names.append(type(owner).__module__)
    return any(name == "torch" or name.startswith("torch.") for name in names)


# --------------------------------------------------------------------------
# Tampering: what the checks rely on must be what was there at import
# --------------------------------------------------------------------------

_BUILTIN_NAMES = (
    "isinstance", "issubclass", "getattr", "setattr", "hasattr", "delattr", "type", "len", "range",
    "zip", "map", "abs", "min", "max", "sum", "any", "all", "sorted", "enumerate", "float", "int",
    "bool", "str", "repr", "tuple", "list", "dict", "set", "print", "callable", "id", "iter", "next",
    "round", "exec", "compile", "vars", "object", "super", "AssertionError", "Exception",
    "BaseException", "NotImplementedError", "RuntimeError", "TypeError", "ValueError")
_TRUSTED_ROOTS = tuple(_real_dir(p) for p in {
    sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})

# Captured now, so a later `sys.setprofile = ...` or `os.urandom = ...` does not reach the checks.
_setprofile, _getprofile = sys.setprofile, sys.getprofile
_gc_disable, _gc_enable, _gc_isenabled = gc.disable, gc.enable, gc.isenabled
urandom = os.urandom


class Integrity:
    """Objects captured by name; ``problems()`` lists every name whose object changed. A function
    captured ``must_be_installed`` must be defined in a file under ``trusted`` (default: this
    Python's standard library and site-packages)."""

    def __init__(self, trusted=None):
        self.trusted = tuple(_real_dir(p) for p in trusted) if trusted is not None else _TRUSTED_ROOTS
        self._captured = []  # (label, namespace, name, object, code)
        self.import_problems = []
        self._real = {}

    def capture(self, label, namespace, names=None, must_be_installed=False):
        for name in (names if names is not None else list(namespace)):
            if name not in namespace:
                continue
            value = namespace[name]
            code = getattr(value, "__code__", None) if isinstance(value, types.FunctionType) else None
            self._captured.append((label, namespace, name, value, code))
            if (must_be_installed and code is not None
                    and not _real(code.co_filename, self._real).startswith(self.trusted)):
                self.import_problems.append(f"{label}.{name} (defined in {code.co_filename})")

    def problems(self):
        found = list(self.import_problems)
        for label, namespace, name, value, code in self._captured:
            now = namespace.get(name, _MISSING)
            if now is not value or (code is not None and value.__code__ is not code):
                found.append(f"{label}.{name}")
        return found


# The torch names the checks use (and the comparisons a kernel is likeliest to fake). Not all of
# torch: torch rewraps some of its own functions when optional parts load (``torch._dynamo`` does
# ``torch.manual_seed = ...``), which is no tampering.
_TORCH_NAMES = (
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "sin", "cos", "exp", "log", "sigmoid", "clamp",
    "neg", "mean", "sum", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "allclose",
    "isclose", "equal", "float32", "float64", "Tensor", "autograd", "overrides")


def standard_integrity():
    """The libraries every check relies on."""
    integrity = Integrity()
    integrity.capture("torch", vars(torch), _TORCH_NAMES, must_be_installed=True)
    integrity.capture("torch.Tensor", vars(torch.Tensor), must_be_installed=True)
    integrity.capture("torch.autograd", vars(torch.autograd), must_be_installed=True)
    integrity.capture("numpy", vars(np), must_be_installed=True)
    integrity.capture("builtins", vars(builtins), _BUILTIN_NAMES)
    integrity.capture("sys", vars(sys), ["setprofile", "getprofile"])
    integrity.capture("os", vars(os), ["urandom"])
    integrity.capture("gc", vars(gc), ["disable", "enable", "isenabled"])
    return integrity


class _Sealed(types.ModuleType):
    """A module whose public names cannot be reassigned from outside (``mod.check = ...``)."""

    def __setattr__(self, name, value):
        if not name.startswith("__"):
            raise AttributeError(f"{self.__name__}.{name} is part of the grader and cannot be replaced")
        super().__setattr__(name, value)

    def __delattr__(self, name):
        raise AttributeError(f"{self.__name__}.{name} is part of the grader and cannot be deleted")


def seal(module):
    module.__class__ = _Sealed
