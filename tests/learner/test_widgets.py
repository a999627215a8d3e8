"""The live widgets and the graph drawing, driven from the kernel side.

Each test moves the controls the way a learner would (setting ``.value``) and reads back what
the widget shows: the HTML of its torch and learner columns, and the SVG of the graphs.
Expected values are computed here with torch on random inputs, never typed in.
"""

import random
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from html import escape

import numpy as np
import pytest
import torch

from autograder.instructor.release import BEGIN, strip_solutions
from autograder.learner import engines
from autograder.learner.graph import build_graph, describe_graph, format_value, graph_svg
from autograder.learner.widgets import (
    LEARNER_MODULE,
    TRACKING_MODES,
    accumulation_widget,
    graph_widget,
    tracking_widget,
)

SVG = "{http://www.w3.org/2000/svg}"


# -- engines with some exercises open ------------------------------------------------------
# (the reference engine itself is conftest's session fixture ``reference``)

def engine_folder(folder, open_exercises=None):
    """A copy of the reference engine in ``folder`` with ``open_exercises`` stubbed (None: all)."""
    shutil.copytree(engines.SOLUTIONS / "tinygrad_course", folder / "tinygrad_course",
                    ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "tinygrad_course" / "engine.py"
    source = path.read_text()
    if open_exercises is not None:  # drop the markers of every region that stays solved
        source = _keep_solved(source, set(open_exercises))
    path.write_text(strip_solutions(source))
    return folder


def _keep_solved(source, open_exercises):
    out, dropping_end = [], False
    for line in source.splitlines(keepends=True):
        begin = BEGIN.match(line)
        if begin and begin["exercise"] not in open_exercises:
            dropping_end = True
            continue
        if dropping_end and line.strip() == "### END SOLUTION":
            dropping_end = False
            continue
        out.append(line)
    return "".join(out)


_loaded = 0


def load_stripped(tmp_path, open_exercises=None):
    global _loaded
    _loaded += 1
    return engines.load_engine(engine_folder(tmp_path, open_exercises), f"_test_widgets_engine_{_loaded}")


# -- reading what a widget shows ---------------------------------------------------------

def shown_now(widget):
    """What the widget displays: table rows (code, torch, engine, verdict), problems, graphs."""
    table = ET.fromstring(f"<div>{widget.table_view.value}</div>")
    rows, titles = [], ["".join(th.itertext()) for th in table.iter("th")]
    for tr in table.iter("tr"):
        cells = ["".join(td.itertext()) for td in tr.findall("td")]
        if cells:
            rows.append(tuple(cells))
    problems = {div.get("data-column"): "".join(div.itertext())
                for div in table.iter("div") if div.get("class") == "agw-problem"}
    graphs = ET.fromstring(f"<div>{widget.graphs_view.value}</div>")
    svgs = {div.get("data-column"): div.find(SVG + "svg") for div in graphs.iter("div") if div.get("data-column")}
    return {"titles": titles, "rows": rows, "problems": problems, "svgs": svgs}


def learner_problem(widget):
    """The learner column's problem message, without the column title in front."""
    text = shown_now(widget)["problems"].get("learner", "")
    return text.split(": ", 1)[1] if text else ""


def column(shown, role):
    return [row[{"torch": 1, "learner": 2}[role]] for row in shown["rows"]]


def results(shown, code_start, role):
    """What the rows whose code starts with ``code_start`` show in one column, in order."""
    index = {"torch": 1, "learner": 2}[role]
    return [row[index] for row in shown["rows"] if row[0].startswith(code_start)]


def assert_all_agree(widget):
    shown = shown_now(widget)
    assert "learner" not in shown["problems"], shown["problems"]
    for code, theirs, mine, verdict in shown["rows"]:
        assert verdict == "\u2713" and mine == theirs, (code, theirs, mine, verdict)


def parse_svg(svg):
    """An SVG from graph_svg -> nodes {key: (kind, node name, label, texts)}, edges, boxes."""
    root = svg if isinstance(svg, ET.Element) else ET.fromstring(svg)
    nodes, boxes, edges = {}, {}, []
    for g in root.iter(SVG + "g"):
        classes = (g.get("class") or "").split()
        if "node" in classes:
            texts = ["".join(t.itertext()) for t in g.iter(SVG + "text")]
            nodes[g.get("data-key")] = (classes[1], g.get("data-node"), g.get("data-label"), texts)
            rect = g.find(SVG + "rect")
            boxes[g.get("data-key")] = tuple(float(rect.get(a)) for a in ("x", "y", "width", "height"))
        elif "edge" in classes:
            edges.append((g.get("data-from"), g.get("data-to"), g.find(SVG + "path").get("d")))
    return nodes, edges, boxes


def named_structure(svg):
    """Node names and edges by node name: comparable between two engines' drawings."""
    nodes, edges, _ = parse_svg(svg)
    names = Counter((n[1], n[2]) for n in nodes.values())
    links = Counter((nodes[a][1], nodes[b][1]) for a, b, _ in edges)
    return names, links


def torch_structure(output):
    """The same, walked here independently from torch's own grad_fn graph."""
    seen, names, links = set(), Counter(), Counter()

    def visit(fn):
        if fn in seen:
            return
        seen.add(fn)
        names[type(fn).__name__] += 1
        for child, _ in fn.next_functions:
            if child is not None:
                links[(type(child).__name__, type(fn).__name__)] += 1
                visit(child)
    visit(output.grad_fn)
    return names, links


# -- the graph drawing ---------------------------------------------------------------------

def bce(T, prediction, target):
    prediction = T.clamp(prediction, 1e-8, 1 - 1e-8)
    return -(target * T.log(prediction) + (1 - target) * T.log(1 - prediction))


def neuron(T, x, y, w, b):
    t = {"w": T.tensor(w, requires_grad=True), "b": T.tensor(b, requires_grad=True)}
    t["z"] = t["w"] * T.tensor(x) + t["b"]
    t["y_pred"] = T.sigmoid(t["z"])
    t["loss"] = bce(T, t["y_pred"], T.tensor(y))
    return t


def random_neuron_inputs(rng):
    """x, y, w, b on the graph widget's slider grid (one decimal)."""
    return (round(float(rng.uniform(-8, 8)), 1), float(rng.choice([0.0, 1.0])),
            round(float(rng.uniform(-3, 3)), 1), round(float(rng.uniform(-3, 3)), 1))


def test_graph_matches_torch_own_graph_and_shows_values_and_grads(reference, rng):
    inputs = random_neuron_inputs(rng)
    oracle = neuron(torch, *inputs)
    oracle["loss"].backward()
    for T in (torch, reference):
        t = neuron(T, *inputs)
        before = parse_svg(graph_svg(t["loss"], t))[0]
        leaves = {n[2]: n[3] for n in before.values() if n[0] == "leaf"}
        assert set(leaves) == {"w", "b"}
        assert all(texts[-1] == "grad = None" for texts in leaves.values())

        t["loss"].backward()
        svg = graph_svg(t["loss"], t)
        nodes, edges, _ = parse_svg(svg)
        assert named_structure(svg)[1] == torch_structure(oracle["loss"])[1]
        assert Counter(n[1] for n in nodes.values()) == torch_structure(oracle["loss"])[0]
        by_label = {n[2]: n for n in nodes.values() if n[2]}
        for leaf in ("w", "b"):
            kind, node_name, _, texts = by_label[leaf]
            assert (kind, node_name) == ("leaf", "AccumulateGrad")
            assert texts == [f"{leaf} (leaf)", f"= {oracle[leaf].item():.4f}",
                             f"grad = {oracle[leaf].grad.item():.4f}"]
        assert by_label["z"][:2] == ("named", "AddBackward0")
        assert by_label["y_pred"][:2] == ("named", "SigmoidBackward0")
        assert by_label["loss"][:2] == ("output", "NegBackward0")
        assert f"= {oracle['loss'].item():.4f}" in by_label["loss"][3]


def test_graph_layout_boxes_do_not_overlap_and_arrows_run_forward(reference, rng):
    for case in range(6):
        if case == 0:
            t = neuron(reference, *random_neuron_inputs(rng))
            out, names = t["loss"], t
        else:
            out, names = random_expression(reference, int(rng.integers(10**9)))
        nodes, edges, boxes = parse_svg(graph_svg(out, names))
        items = list(boxes.items())
        for i, (ka, (xa, ya, wa, ha)) in enumerate(items):
            for kb, (xb, yb, wb, hb) in items[i + 1:]:
                apart = xa + wa <= xb or xb + wb <= xa or ya + ha <= yb or yb + hb <= ya
                assert apart, f"boxes {nodes[ka][1]} and {nodes[kb][1]} overlap"
        for src, dst, _ in edges:
            assert boxes[src][1] + boxes[src][3] < boxes[dst][1], "an arrow must run down, input to user"


def random_expression(T, seed):
    """The same random expression (with reused intermediates) in either library."""
    pick = random.Random(seed)
    leaves = [T.tensor(pick.uniform(0.5, 2.0), requires_grad=True) for _ in range(3)]
    pool = list(leaves) + [T.tensor(pick.uniform(0.5, 2.0))]
    for _ in range(pick.randint(3, 9)):
        op = pick.choice(["add", "mul", "sub", "sin", "exp", "sigmoid", "neg", "square"])
        pool.append(_apply(T, op, pick.choice(pool), pick.choice(pool)))
    out = pool[-1] + pool[-2] + leaves[0]
    return out, {f"p{i}": p for i, p in enumerate(leaves)}


def _apply(T, op, a, b):
    if op in ("add", "mul", "sub"):
        return {"add": a + b, "mul": a * b, "sub": a - b}[op]
    if op == "exp":
        return T.exp(a * 0.1)
    return {"sin": T.sin, "sigmoid": T.sigmoid, "neg": lambda t: -t, "square": lambda t: t ** 2}[op](a)


def test_random_graphs_draw_the_same_for_torch_and_the_engine(reference, rng):
    for _ in range(12):
        seed = int(rng.integers(10**9))
        (out_t, names_t), (out_e, names_e) = (random_expression(T, seed) for T in (torch, reference))
        svg_t, svg_e = graph_svg(out_t, names_t), graph_svg(out_e, names_e)
        assert named_structure(svg_t) == named_structure(svg_e), f"expression seed {seed}"
        assert named_structure(svg_t)[1] == torch_structure(out_t)[1], f"expression seed {seed}"
        assert describe_graph(out_t, names_t) == describe_graph(out_e, names_e), f"expression seed {seed}"


def test_graph_of_a_tensor_without_history(reference):
    for T in (torch, reference):
        c = T.tensor([1.0, 2.0])
        nodes, edges, _ = parse_svg(graph_svg(c, {"c": c}))
        assert edges == []
        [(kind, _, label, texts)] = nodes.values()
        assert (kind, label) == ("output", "c")
        assert texts[1] == f"= {format_value(torch.tensor([1.0, 2.0]))}"
        assert "no grad_fn" in texts[-1]


def test_graph_bad_input_is_named():
    w = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(TypeError, match="names\\['w'\\] is a float"):
        graph_svg(w * 2, {"w": 1.0})
    with pytest.raises(TypeError, match="got the key 3"):
        graph_svg(w * 2, {3: w})
    with pytest.raises(TypeError, match="needs a tensor"):
        build_graph([1.0])


def test_show_graph_displays_svg_with_text_fallback(reference, monkeypatch):
    from IPython.core.formatters import format_display_data

    from autograder.learner import graph
    displayed = []
    monkeypatch.setattr("IPython.display.display", lambda obj: displayed.append(obj))
    t = neuron(reference, 6.7, 0.0, 1.0, 0.0)
    names = {"w": t["w"], "b": t["b"]}
    graph.show_graph(t["loss"], names)
    data, _ = format_display_data(displayed[0])
    assert data["image/svg+xml"] == graph_svg(t["loss"], names)
    assert data["text/plain"] == describe_graph(t["loss"], names)
    assert not re.search(r"0x[0-9a-f]{6,}", data["text/plain"] + data["image/svg+xml"])


def _without_theme(value, svg_colour):
    """A colour as a page without JupyterLab's variables sees it (an <img>, nbconvert's HTML)."""
    value = value.strip()
    if value.startswith("var("):
        value = value[value.index(",") + 1:value.rindex(")")].strip()
    if value == "currentColor":
        return svg_colour
    return tuple(int(value.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))


def _style(element, prop):
    return dict(p.split(":", 1) for p in (element.get("style") or "").split(";") if ":" in p)[prop]


def test_graph_text_reads_without_theme_variables(reference):
    """JupyterLab shows image/svg+xml as an <img>: no theme variable reaches it and the page behind
    may be dark. The drawing brings its own opaque card, and every text reads on it."""
    from browser_helpers import contrast, over
    t = neuron(reference, 6.7, 0.0, 1.0, 0.0)
    t["loss"].backward()
    root = ET.fromstring(graph_svg(t["loss"], t, title="torch"))
    colour = _without_theme(_style(root, "color"), None) if "color" in (root.get("style") or "") else (0, 0, 0)
    cards = [r for r in root.findall(SVG + "rect") if r.get("width") == r.get("height") == "100%"]
    assert cards, "no background of its own: on a dark page, text in the page's default black would vanish"
    card = cards[0]
    card_colour = _without_theme(_style(card, "fill"), colour)
    ratios = {}
    for group in [root] + [g for g in root.iter(SVG + "g") if "node" in (g.get("class") or "")]:
        background = card_colour
        if group is not root:
            box = group.find(SVG + "rect")
            background = over((*_without_theme(box.get("fill"), colour), float(box.get("fill-opacity", 1))),
                               card_colour)
        for text in group.findall(SVG + "text"):
            ratios["".join(text.itertext())] = contrast(_without_theme(text.get("fill", "#000000"), colour),
                                                        background)
    assert "torch" in ratios and len(ratios) > 10
    assert min(ratios.values()) >= 4.5, {k: round(v, 2) for k, v in ratios.items() if v < 4.5}


# -- accumulation_widget --------------------------------------------------------------

def torch_accumulated(x0, calls, zero_between):
    """x.grad after each call, as torch prints it."""
    x = torch.tensor(x0, requires_grad=True)
    grads = []
    for call in range(calls):
        if zero_between and call:
            x.grad.zero_()
        (x ** 2).backward()
        grads.append(repr(x.grad))
    return grads


CALL = "y = x ** 2; y.backward(); x.grad"


def test_accumulation_widget_follows_the_controls(reference, rng):
    widget = accumulation_widget(reference)
    for _ in range(4):
        x0 = float(rng.choice(np.arange(-5, 5.5, 0.5)))
        calls, zero = int(rng.integers(2, 11)), bool(rng.random() < 0.5)
        widget.x.value, widget.calls.value, widget.zero_between.value = x0, calls, zero
        expected = torch_accumulated(x0, calls, zero)
        shown = shown_now(widget)
        assert results(shown, CALL, "torch") == results(shown, CALL, "learner") == expected
        assert len(results(shown, "x.grad.zero_()", "torch")) == (calls - 1 if zero else 0)
        assert_all_agree(widget)
    assert shown["titles"] == ["code", "torch", reference.__name__, ""]


def test_accumulation_widget_flags_a_gradient_that_is_not_accumulated(tmp_path):
    engine = load_stripped(tmp_path, open_exercises=[])

    def overwrite(self, grad):  # a classic slip: = instead of +=
        self.variable.grad = engine.Tensor._make(grad.copy())
        return ()
    engine.engine.AccumulateGrad.apply = overwrite
    widget = accumulation_widget(engine)
    widget.calls.value = 3
    rows = [row for row in shown_now(widget)["rows"] if row[0].startswith(CALL)]
    expected, once = torch_accumulated(2.0, 3, False), torch_accumulated(2.0, 1, False)[0]
    assert [row[1] for row in rows] == expected
    assert rows[0][2:] == (once, "\u2713")
    assert rows[2][2:] == (once, "\u2717 differs from torch")


def test_accumulation_widget_names_the_open_exercise(tmp_path):
    engine = load_stripped(tmp_path)  # every exercise open, as a learner starts
    widget = accumulation_widget(engine)
    shown = shown_now(widget)
    assert results(shown, CALL, "torch") == torch_accumulated(2.0, 1, False)
    [row] = [r for r in shown["rows"] if r[0].startswith(CALL)]
    assert row[2].startswith("NotImplementedError") and row[3] == "\u2026 exercise open"
    assert learner_problem(widget) == engine.engine.todo("backward_pass")
    assert "backward_pass" in learner_problem(widget) and "02_sin_chain_rule.ipynb" in learner_problem(widget)


def test_accumulation_widget_with_only_zero_open(tmp_path):
    engine = load_stripped(tmp_path, open_exercises=["zero_"])
    widget = accumulation_widget(engine)
    widget.calls.value = 4
    assert_all_agree(widget)
    widget.zero_between.value = True
    assert learner_problem(widget) == engine.engine.todo("zero_")
    assert "05_clearing_gradients.ipynb" in learner_problem(widget)
    shown = shown_now(widget)  # the call before the zero_() still shows its gradient
    assert [r for r in results(shown, CALL, "learner") if r] == torch_accumulated(2.0, 1, True)
    assert results(shown, CALL, "torch") == torch_accumulated(2.0, 4, True)


def test_accumulation_widget_loads_the_learner_engine_fresh_from_cwd(tmp_path, monkeypatch):
    engine_folder(tmp_path, open_exercises=["accumulate_grad"])
    monkeypatch.chdir(tmp_path)
    widget = accumulation_widget()
    assert shown_now(widget)["titles"][2] == "your engine (./tinygrad_course)"
    assert "accumulate_grad" in learner_problem(widget) and "01_x_squared.ipynb" in learner_problem(widget)
    # the learner writes the exercise: the next slider move picks up the edited file
    shutil.rmtree(tmp_path / "tinygrad_course")
    engine_folder(tmp_path, open_exercises=[])
    widget.calls.value = 2
    assert_all_agree(widget)
    assert "tinygrad_course" not in sys.modules, "the learner's engine loads under a private name"
    assert LEARNER_MODULE in sys.modules


def test_accumulation_widget_without_an_engine_folder_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    widget = accumulation_widget()
    assert learner_problem(widget).startswith("Could not load your engine from ./tinygrad_course")
    assert column(shown_now(widget), "learner") == ["", "", ""][:len(shown_now(widget)["rows"])]


def test_widget_bundle_has_the_view_and_a_stable_static_fallback(reference):
    for make in (accumulation_widget, tracking_widget, graph_widget):
        bundles = [make(reference)._repr_mimebundle_() for _ in range(2)]
        model_ids = {b["application/vnd.jupyter.widget-view+json"]["model_id"] for b in bundles}
        assert len(model_ids) == 2
        for key in ("text/plain", "text/html"):
            assert bundles[0][key] == bundles[1][key]
            assert not re.search(r"0x[0-9a-f]{6,}", bundles[0][key])
            assert not any(model_id in bundles[0][key] for model_id in model_ids)
    bundle = accumulation_widget(reference)._repr_mimebundle_()
    expected = torch_accumulated(2.0, 1, False)[0]
    [line] = [line for line in bundle["text/plain"].splitlines() if line.startswith(CALL)]
    assert line.split()[-3:] == [expected, expected, "\u2713"]
    assert escape(expected) in bundle["text/html"]


# -- tracking_widget ----------------------------------------------------------------------

def backward_error(t):
    """What torch raises for t.backward(), as the widget shows an error."""
    with pytest.raises(RuntimeError) as caught:
        t.backward()
    return f"RuntimeError: {caught.value}"


def test_tracking_widget_shows_torch_results_and_errors(reference, rng):
    x0 = float(rng.choice([v for v in np.arange(-5, 5.5, 0.5) if v]))
    widget = tracking_widget(reference)
    widget.x.value = x0
    captions = set()
    for mode in TRACKING_MODES:
        widget.mode.value = mode
        assert_all_agree(widget)
        shown = shown_now(widget)
        captions.add(widget.caption.value)
        x = torch.tensor(x0, requires_grad=True)
        if mode == "none":
            (x ** 2).backward()
            assert results(shown, "x.grad", "learner") == [repr(x.grad)]
        elif mode == "requires_grad_(False)":
            x.requires_grad_(False)
            assert results(shown, "y = x ** 2", "learner") == [repr(x ** 2)]
            assert results(shown, "y.backward()", "learner") == [backward_error(x ** 2)]
        elif mode == "detach()":
            z = x.detach()
            assert results(shown, "y1.backward()", "learner") == [backward_error(z ** 2)]
            (x ** 2).backward()
            assert results(shown, "x.grad", "learner") == [repr(x.grad)]
            with torch.no_grad():
                x += 1
            assert results(shown, "z  #", "learner") == [repr(z)]
        else:
            with torch.no_grad():
                y = x ** 2
            assert results(shown, "y.backward()", "learner") == [backward_error(y)]
            assert results(shown, "y2 = x ** 2", "learner") == [repr(x ** 2)]
    assert len(captions) == len(TRACKING_MODES), "each mode explains itself"


def test_tracking_widget_catches_a_detach_that_copies(tmp_path):
    engine = load_stripped(tmp_path, open_exercises=[])
    engine.engine.Tensor.detach = lambda self: engine.Tensor(self._array)  # copies: no shared data
    widget = tracking_widget(engine)
    widget.mode.value = "detach()"
    [row] = [r for r in shown_now(widget)["rows"] if r[0].startswith("z  #")]
    x = torch.tensor(2.0, requires_grad=True)
    z = x.detach()
    with torch.no_grad():
        x += 1
    assert row[1:] == (repr(z), repr(torch.tensor(2.0)), "\u2717 differs from torch")


def test_tracking_widget_catches_no_grad_that_never_switches_back(tmp_path):
    engine = load_stripped(tmp_path, open_exercises=[])
    engine.engine._GradModeContext.__exit__ = lambda self, *exc: None
    widget = tracking_widget(engine)
    widget.mode.value = "no_grad()"
    [row] = [r for r in shown_now(widget)["rows"] if r[0].startswith("y2 = x ** 2")]
    x = torch.tensor(2.0, requires_grad=True)
    assert row[1] == repr(x ** 2) and row[3] == "\u2717 differs from torch"
    widget.mode.value = "none"  # the next run starts with recording on again
    assert_all_agree(widget)
    assert engine.is_grad_enabled() and torch.is_grad_enabled(), "the kernel's own mode is left as it was"


def test_widgets_leave_the_kernel_grad_mode_alone(reference):
    with torch.no_grad(), reference.no_grad():
        widget = tracking_widget(reference)
        widget.mode.value = "no_grad()"
        assert not torch.is_grad_enabled() and not reference.is_grad_enabled()
    assert_all_agree(widget)


@pytest.mark.parametrize("mode, exercise", [("detach()", "detach"), ("no_grad()", "grad_mode")])
def test_tracking_widget_names_the_open_exercise(tmp_path, mode, exercise):
    engine = load_stripped(tmp_path, open_exercises=[exercise])
    widget = tracking_widget(engine)
    assert_all_agree(widget)
    widget.mode.value = mode
    assert learner_problem(widget) == engine.engine.todo(exercise)
    assert "06_disabling_tracking.ipynb" in learner_problem(widget)


# -- graph_widget -------------------------------------------------------------------------

def test_graph_widget_redraws_with_torch_gradients(reference, rng):
    widget = graph_widget(reference)
    for _ in range(3):
        x, y, w, b = random_neuron_inputs(rng)
        widget.x.value, widget.y.value, widget.w.value, widget.b.value = x, y, w, b
        oracle = neuron(torch, x, y, w, b)
        oracle["loss"].backward()
        assert_all_agree(widget)
        shown = shown_now(widget)
        assert results(shown, "w.grad", "learner") == [f"{oracle['w'].grad.item():.4f}"]
        assert set(shown["svgs"]) == {"torch", "learner"}
        for svg in shown["svgs"].values():
            nodes, _, _ = parse_svg(svg)
            leaves = {n[2]: n[3] for n in nodes.values() if n[0] == "leaf"}
            assert leaves["w"] == ["w (leaf)", f"= {w:.4f}", f"grad = {oracle['w'].grad.item():.4f}"]
            assert leaves["b"][-1] == f"grad = {oracle['b'].grad.item():.4f}"
            assert named_structure(svg)[1] == torch_structure(oracle["loss"])[1]


def test_graph_widget_draws_the_forward_graph_when_backward_is_open(tmp_path):
    engine = load_stripped(tmp_path)
    widget = graph_widget(engine)
    assert learner_problem(widget) == engine.engine.todo("backward_pass")
    svgs = shown_now(widget)["svgs"]
    assert named_structure(svgs["learner"])[0] == named_structure(svgs["torch"])[0]
    nodes, _, _ = parse_svg(svgs["learner"])
    assert all(n[3][-1] == "grad = None" for n in nodes.values() if n[0] == "leaf")


def test_graph_widget_shows_torchs_error_for_a_grad_of_the_wrong_type(tmp_path):
    """A slip that stores a number in .grad: the assignment refuses it in torch's words, shown on the
    backward line; both graphs are still drawn."""
    import torch
    engine = load_stripped(tmp_path, open_exercises=[])

    def store_a_number(self, grad):
        self.variable.grad = grad.tolist()  # (0-d: a float)
        return ()
    engine.engine.AccumulateGrad.apply = store_a_number
    shown = shown_now(graph_widget(engine))
    try:
        torch.tensor(1.0, requires_grad=True).grad = 1.0
    except TypeError as error:
        torchs = f"TypeError: {error}"
    [row] = [r for r in shown["rows"] if r[0] == "loss.backward()"]
    assert row[2] == torchs and row[3] == "\u2717 differs from torch"
    assert set(shown["svgs"]) == {"torch", "learner"}


def test_graph_widget_survives_a_grad_of_the_wrong_type(tmp_path):
    engine = load_stripped(tmp_path, open_exercises=[])

    def store_a_list(self, grad):  # past the .grad setter: something other than a tensor in .grad
        self.variable._grad = grad.tolist()
        return ()
    engine.engine.AccumulateGrad.apply = store_a_list
    widget = graph_widget(engine)
    shown = shown_now(widget)
    [row] = [r for r in shown["rows"] if r[0] == "w.grad"]
    assert row[3] == "\u2717 differs from torch"
    assert learner_problem(widget).startswith("The graph could not be drawn: AttributeError")
    assert "torch" in shown["svgs"]
