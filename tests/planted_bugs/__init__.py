"""Planted bugs for the checks: engine variants and wrong notebook answers (``variants.toml``),
and correct notebook answers to stand beside them (``answers.py``)."""

import math
import re
import shutil
import textwrap
import tomllib
from pathlib import Path

import numpy as np

from autograder.instructor.release import BEGIN, END  # the one parser of solution markers

HERE = Path(__file__).resolve().parent


def variants():
    """``(engine variants, notebook variants)``, each a list of dicts with a stable ``name``: the
    exercise and the slip it plants (``pow_backward:the-power-must-drop-by-one``), not a position,
    so adding or reordering entries never renames a test."""
    data = tomllib.loads((HERE / "variants.toml").read_text())
    engine, notebook = data.get("engine", []), data.get("notebook", [])
    names = set()
    for kind, entries, key in (("engine", engine, "unit"), ("notebook", notebook, "exercise")):
        for entry in entries:
            entry["name"] = f"{entry[key]}:" + "-".join(re.findall(r"[a-z0-9_]+", entry["slip"].lower()))[:60]
            entry["kind"] = kind
            assert entry["name"] not in names, f"two planted bugs are named {entry['name']}: give one another slip"
            names.add(entry["name"])
    return engine, notebook


def plant(source, unit, body, region=1):
    """``source`` with the ``region``-th solution region of ``unit`` replaced by ``body``."""
    lines, out, seen, inside = source.splitlines(keepends=True), [], 0, False
    for line in lines:
        begin = BEGIN.match(line)
        if inside:
            if END.match(line):
                inside = False
                out.append(line)
            continue
        out.append(line)
        if begin and begin["exercise"] == unit:
            seen += 1
            if seen == region:
                inside = True
                out.append(textwrap.indent(textwrap.dedent(body).strip("\n") + "\n", begin["indent"]))
    if seen < region:
        raise ValueError(f"the engine has {seen} solution region(s) for {unit}, the variant wants region {region}")
    return "".join(out)


def write_engine(folder, reference_package, variant):
    """A copy of the reference engine package in ``folder`` with the variant planted."""
    target = Path(folder) / "tinygrad_course"
    shutil.copytree(reference_package, target, ignore=shutil.ignore_patterns("__pycache__"))
    engine = target / "engine.py"
    engine.write_text(plant(engine.read_text(), variant["unit"], variant["body"], variant.get("region", 1)))
    return Path(folder)


def wrong_answer(variant, engine, function_name):
    """The variant's ``function_name``, with ``tinygrad_course`` bound to ``engine``."""
    import torch  # notebook 11's answers are written in torch
    namespace = {"tinygrad_course": engine, "math": math, "np": np, "torch": torch}
    exec(compile(textwrap.dedent(variant["source"]), f"<planted {variant['name']}>", "exec"), namespace)
    return namespace[function_name]
