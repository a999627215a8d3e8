"""Live widgets: run the same few lines with torch and with the learner's engine, side by side.

    accumulation_widget()   # backward() called n times, with or without x.grad.zero_() between
    tracking_widget()       # requires_grad_(False) / detach() / no_grad(): what still records
    graph_widget()          # Example 03's graph, drawn from the tensors, with values and grads

``engine=None`` loads the learner's engine fresh from ``./tinygrad_course`` on every change,
so edits to ``engine.py`` show up without restarting the kernel. An exercise that is not
written yet stops that column with the engine's own message naming the exercise.

Each widget displays as a MIME bundle: the live widget view, plus a static ``text/html`` and
``text/plain`` rendering of its first state for places that cannot run widgets (nbconvert,
GitHub's preview). The plain text holds no memory addresses or model ids, so nbval can
compare it run to run.

Colours follow JupyterLab's light or dark theme (its CSS variables, with fallbacks elsewhere);
every control has an accessible name and a visible keyboard focus.
"""

import os
from dataclasses import dataclass, field
from html import escape

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from autograder.learner.engines import load_engine
from autograder.learner.graph import format_value, graph_svg

LEARNER_MODULE = "_tinygrad_course_widgets"  # private name: never shadows a real import
EPSILON = 1e-8  # the seed's clamp in binary_cross_entropy_loss


# -- what a column shows ------------------------------------------------------

@dataclass
class Step:
    code: str           # the line that ran, e.g. "y.backward()"
    shown: str          # what it gave: a repr, or "RuntimeError: <message>"
    error: bool = False


@dataclass
class Column:
    title: str
    steps: list = field(default_factory=list)
    problem: str = ""   # why the column stopped: an open exercise, or the engine failed to load
    svg: str = ""       # graph_widget only


class _OpenExercise(Exception):
    """The learner's engine raised NotImplementedError: stop this column, say which exercise."""


class _Recorder:
    """Runs one line at a time, recording its result or its error as a Step."""

    def __init__(self, column):
        self.column = column

    def run(self, code, action, show=repr):
        try:
            value = action()
            text = "" if show is None else show(value)
        except NotImplementedError as error:
            self.column.problem = str(error) or f"{code} is not implemented yet"
            self.column.steps.append(Step(code, OPEN, error=True))
            raise _OpenExercise from error
        except Exception as error:  # shown as the result, as a notebook cell would show it
            self.column.steps.append(Step(code, f"{type(error).__name__}: {error}", error=True))
            return None
        self.column.steps.append(Step(code, text))
        return value


OPEN = "NotImplementedError (exercise not written yet, see below)"


def _run_scenario(scenario, column, T, *args):
    # Recording on for the scenario, and the caller's mode restored after it, even when a
    # learner's no_grad forgets to switch back. inf/nan just show in the table, as torch prints them.
    try:
        with T.set_grad_enabled(True), np.errstate(all="ignore"):
            scenario(_Recorder(column), T, *args)
    except _OpenExercise:
        pass
    return column


# -- engines ----------------------------------------------------------------------

class _Engines:
    """torch, and the learner's engine: the module given, or ``./tinygrad_course`` loaded fresh."""

    def __init__(self, engine):
        import torch
        self.torch, self.engine = torch, engine
        self.learner_title = "your engine (./tinygrad_course)" if engine is None else engine.__name__

    def learner(self):
        """The engine module, or raises with a message saying why it could not be loaded."""
        if self.engine is not None:
            return self.engine
        try:
            return load_engine(os.getcwd(), LEARNER_MODULE)
        except Exception as error:
            raise _LoadFailed(f"Could not load your engine from ./tinygrad_course: "
                              f"{type(error).__name__}: {error}") from error


class _LoadFailed(Exception):
    pass


def _columns(engines, scenario, *args):
    torch_column = _run_scenario(scenario, Column("torch"), engines.torch, *args)
    learner_column = Column(engines.learner_title)
    try:
        module = engines.learner()
    except _LoadFailed as error:
        learner_column.problem = str(error)
        return torch_column, learner_column
    return torch_column, _run_scenario(scenario, learner_column, module, *args)


# -- rendering: one table, a row per line of code, torch's result next to the engine's ----

# Colours come from JupyterLab's theme variables, with fallbacks for pages that have none
# (nbconvert's HTML, other front ends). Row tints are translucent so they read over a light and a
# dark background alike; text keeps the theme's colour, and a verdict or an error mixes its hue
# into that colour (color-mix with currentColor: dark red on a light page, light red on a dark one).
STYLE = """<style>
.agw-table {border-collapse: collapse; margin-top: 4px; font-size: 13px; line-height: 1.35;}
.agw-table th {text-align: left; padding: 3px 10px; border-bottom: 1px solid var(--jp-border-color1, #94a3b8);}
.agw-table td {text-align: left; vertical-align: top; padding: 3px 10px;
               border-bottom: 1px solid var(--jp-border-color2, rgba(128, 128, 128, 0.3));
               white-space: pre-wrap; line-height: 1.35;}
.agw-table code {font-size: 12px; color: inherit; background: none;}
.agw-agree {background: rgba(76, 175, 80, 0.14);}
.agw-differ {background: rgba(244, 67, 54, 0.14);}
.agw-open {background: rgba(255, 152, 0, 0.14);}
.agw-verdict {white-space: nowrap;}
.agw-error, .agw-differ .agw-verdict {color: color-mix(in srgb, var(--jp-error-color1, #d32f2f) 60%, currentColor);}
.agw-differ .agw-verdict {font-weight: bold;}
.agw-agree .agw-verdict {color: color-mix(in srgb, var(--jp-success-color1, #388e3c) 60%, currentColor);}
.agw-open .agw-verdict {color: color-mix(in srgb, var(--jp-warn-color1, #f57c00) 55%, currentColor);}
.agw-problem {margin-top: 6px; padding: 6px 10px; background: rgba(255, 152, 0, 0.14);
              border-left: 4px solid var(--jp-warn-color1, #f57c00); line-height: 1.35; font-size: 13px;}
.agw-caption {margin: 4px 0; font-size: 13px; line-height: 1.35;}
.agw-graphs {display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start;}
.agw-widget .noUi-handle:focus-visible, .agw-widget button:focus-visible, .agw-widget input:focus-visible
    {outline: 2px solid var(--jp-brand-color1, #1976d2); outline-offset: 2px;}
</style>"""
AGREES = "\u2713"
OPEN_VERDICT = "\u2026 exercise open"


def comparison_rows(torch_column, learner_column):
    """(code, torch's result, the engine's result, verdict) per line; verdict "" = nothing to compare."""
    rows = []
    for i in range(max(len(torch_column.steps), len(learner_column.steps))):
        mine = learner_column.steps[i] if i < len(learner_column.steps) else None
        theirs = torch_column.steps[i] if i < len(torch_column.steps) else None
        code = (theirs or mine).code
        if mine is None:
            verdict = ""
        elif mine.shown == OPEN:
            verdict = OPEN_VERDICT
        elif theirs is None or mine.shown != theirs.shown:
            verdict = "\u2717 differs from torch"
        else:
            verdict = AGREES
        rows.append((code, theirs, mine, verdict))
    return rows


def _cell(step, role):
    if step is None:
        return f'<td class="agw-{role}"></td>'
    css = f"agw-{role} agw-error" if step.error else f"agw-{role}"
    return f'<td class="{css}"><code>{escape(step.shown)}</code></td>'


def table_html(torch_column, learner_column):
    head = (f"<tr><th>code</th><th>{escape(torch_column.title)}</th>"
            f"<th>{escape(learner_column.title)}</th><th></th></tr>")
    rows = []
    for code, theirs, mine, verdict in comparison_rows(torch_column, learner_column):
        css = {"": "", AGREES: ' class="agw-agree"', OPEN_VERDICT: ' class="agw-open"'}.get(
            verdict, ' class="agw-differ"')
        rows.append(f'<tr{css}><td class="agw-code"><code>{escape(code)}</code></td>'
                    f'{_cell(theirs, "torch")}{_cell(mine, "learner")}'
                    f'<td class="agw-verdict">{escape(verdict)}</td></tr>')
    problems = "".join(f'<div class="agw-problem" data-column="{role}"><b>{escape(c.title)}:</b> '
                       f'{escape(c.problem)}</div>'
                       for role, c in (("torch", torch_column), ("learner", learner_column)) if c.problem)
    return f'<table class="agw-table">{head}{"".join(rows)}</table>{problems}'


def graphs_html(torch_column, learner_column):
    drawn = [f'<div data-column="{role}">{c.svg}</div>'
             for role, c in (("torch", torch_column), ("learner", learner_column)) if c.svg]
    return f'<div class="agw-graphs">{"".join(drawn)}</div>' if drawn else ""


def table_text(torch_column, learner_column):
    """The table as aligned plain text."""
    rows = [("code", torch_column.title, learner_column.title, "")]
    for code, theirs, mine, verdict in comparison_rows(torch_column, learner_column):
        rows.append((code, theirs.shown if theirs else "", mine.shown if mine else "", verdict))
    widths = [min(48, max(len(r[i]) for r in rows)) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths + [0])).rstrip() for row in rows]
    lines += [f"{c.title}: {c.problem}" for c in (torch_column, learner_column) if c.problem]
    return "\n".join(lines)


# -- accessible names: ipywidgets 8 gives a slider's handle (role="slider") no name -------------
# Its description is a <label> tied to nothing, and no trait reaches the handle (noUiSlider's own
# handleAttributes option is not exposed). This invisible companion names each control by its
# description in the front end, again whenever the widget redraws a control, and marks which
# toggle button is pressed.

NAMING_ESM = """
function name(root, names) {
  for (const [control, label] of Object.entries(names)) {
    for (const el of root.querySelectorAll('.agw-control-' + control)) {
      for (const handle of el.querySelectorAll('[role="slider"]')) {
        if (handle.getAttribute('aria-label') !== label) handle.setAttribute('aria-label', label);
      }
      if (el.classList.contains('widget-toggle-buttons')) {
        if (el.getAttribute('aria-label') !== label) {
          el.setAttribute('role', 'group');
          el.setAttribute('aria-label', label);
        }
        for (const button of el.querySelectorAll('button')) {
          const pressed = String(button.classList.contains('mod-active'));
          if (button.getAttribute('aria-pressed') !== pressed) button.setAttribute('aria-pressed', pressed);
        }
      }
    }
  }
}

export default {
  render({ model, el }) {
    let observer = null, frame = 0;
    const apply = () => {
      const root = el.closest('.agw-widget');
      if (root) name(root, model.get('names'));
      return root;
    };
    const start = () => {  // the view is attached to the page after render() returns
      const root = apply();
      if (!root) { frame = requestAnimationFrame(start); return; }
      observer = new MutationObserver(apply);
      observer.observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
    };
    start();
    return () => { cancelAnimationFrame(frame); if (observer) observer.disconnect(); };
  },
};
"""


class _ControlNames(anywidget.AnyWidget):
    _esm = NAMING_ESM
    names = traitlets.Dict().tag(sync=True)  # control name (its agw-control-<name> class) -> label


class LiveWidget:
    """A row of controls over a comparison table (torch | the engine), redrawn whenever a
    control moves. Subclasses set ``scenario`` and pass their controls by name."""

    scenario = None
    draws_graphs = False

    def __init__(self, engine, controls):
        self.engines = _Engines(engine)
        self.controls = controls
        self.caption = widgets.HTML()
        self.graphs_view = widgets.HTML()
        self.table_view = widgets.HTML()
        names = _ControlNames(names={name: c.description for name, c in controls.items()},
                              layout=widgets.Layout(display="none"))
        parts = [widgets.HTML(STYLE), names,
                 widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
                 self.caption]
        self.view = widgets.VBox(parts + ([self.graphs_view] if self.draws_graphs else []) + [self.table_view])
        # classes give the browser test (and anyone styling the course) stable handles
        self.view.add_class("agw-widget")
        self.table_view.add_class("agw-comparison")
        for name, control in controls.items():
            control.add_class(f"agw-control-{name}")
            control.observe(self.update, names="value")
        self.update()

    def __getattr__(self, name):  # widget.calls, widget.x, ...: the controls by name
        controls = self.__dict__.get("controls", {})
        if name in controls:
            return controls[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def values(self):
        return {name: control.value for name, control in self.controls.items()}

    def update(self, change=None):
        values = self.values()
        self.columns = _columns(self.engines, type(self).scenario, values)
        self.caption.value = f'<div class="agw-caption">{escape(self.describe(values))}</div>'
        self.graphs_view.value = graphs_html(*self.columns)
        self.table_view.value = table_html(*self.columns)

    def describe(self, values):
        """One line saying what the table ran."""
        return ", ".join(f"{name} = {value}" for name, value in values.items())

    # -- display --
    def text(self):
        """What the widget shows now, as plain text (graphs left out)."""
        return self.describe(self.values()) + "\n" + table_text(*self.columns)

    def static_html(self):
        return (STYLE + '<div class="agw-static">'
                + "<p><em>A live widget: run the notebook to move its controls. Its first state:</em></p>"
                + self.caption.value + graphs_html(*self.columns) + table_html(*self.columns) + "</div>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = dict(self.view._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = self.text()
        return bundle

    def __repr__(self):
        return self.text()


# -- 1. gradient accumulation --------------------------------------------------------

def _accumulation(rec, T, values):
    x0, calls, zero_between = values["x"], values["calls"], values["zero_between"]
    x = rec.run(f"x = torch.tensor({x0!r}, requires_grad=True)", lambda: T.tensor(x0, requires_grad=True))
    if x is None:
        return
    for call in range(1, calls + 1):
        if zero_between and call > 1:
            rec.run("x.grad.zero_()", lambda: x.grad.zero_())
        rec.run(f"y = x ** 2; y.backward(); x.grad  # call {call}", lambda: _backward_then_grad(x))


def _backward_then_grad(x):
    (x ** 2).backward()
    return x.grad


class AccumulationWidget(LiveWidget):
    scenario = staticmethod(_accumulation)

    def __init__(self, engine=None):
        super().__init__(engine, {
            "x": widgets.FloatSlider(value=2.0, min=-5.0, max=5.0, step=0.5, description="x",
                                     readout_format=".1f"),
            "calls": widgets.IntSlider(value=1, min=1, max=10, description="backward() calls",
                                       style={"description_width": "initial"}),
            "zero_between": widgets.Checkbox(value=False, description="call x.grad.zero_() between calls",
                                             indent=False),
        })

    def values(self):
        values = super().values()
        values["x"] = round(float(values["x"]), 2)  # a slider's float can arrive as 2.5000000001
        return values

    def describe(self, values):
        zero = "x.grad.zero_() between calls" if values["zero_between"] else "no zero_() between calls"
        times = "once" if values["calls"] == 1 else f"{values['calls']} times"
        return f"y = x ** 2 at x = {values['x']}: backward() called {times}, {zero}."


def accumulation_widget(engine=None):
    """backward() called n times on y = x ** 2, with or without x.grad.zero_() in between."""
    return AccumulationWidget(engine)


# -- 2. disabling gradient tracking ------------------------------------------------

TRACKING_MODES = ("none", "requires_grad_(False)", "detach()", "no_grad()")
TRACKING_NOTES = {
    "none": "Nothing disabled: y records PowBackward0 and backward() fills x.grad.",
    "requires_grad_(False)": "x itself stops requiring grad, so nothing computed from x is recorded.",
    "detach()": "z = x.detach() is the same data outside the graph: y1 = z ** 2 records nothing, "
                "y = x ** 2 still does. Changing x in place shows in z: they share data.",
    "no_grad()": "Inside the block nothing is recorded; after it, recording is back on.",
}


def _tracking(rec, T, values):
    x0, mode = values["x"], values["mode"]
    x = rec.run(f"x = torch.tensor({x0!r}, requires_grad=True)", lambda: T.tensor(x0, requires_grad=True))
    if x is None:
        return
    if mode == "none":
        y = rec.run("y = x ** 2", lambda: x ** 2)
        rec.run("y.backward()", lambda: y.backward(), show=None)
        rec.run("x.grad", lambda: x.grad)
    elif mode == "requires_grad_(False)":
        rec.run("x.requires_grad_(False)", lambda: x.requires_grad_(False))
        y = rec.run("y = x ** 2", lambda: x ** 2)
        rec.run("y.grad_fn", lambda: y.grad_fn, show=_node_name)
        rec.run("y.backward()", lambda: y.backward(), show=None)
    elif mode == "detach()":
        z = rec.run("z = x.detach()", lambda: x.detach())
        y = rec.run("y = x ** 2", lambda: x ** 2)
        y1 = rec.run("y1 = z ** 2", lambda: z ** 2)
        rec.run("y1.grad_fn", lambda: y1.grad_fn, show=_node_name)
        rec.run("y.backward()", lambda: y.backward(), show=None)
        rec.run("x.grad", lambda: x.grad)
        rec.run("y1.backward()", lambda: y1.backward(), show=None)

        def bump():
            with T.no_grad():
                x.__iadd__(1)  # x += 1 in place; a leaf that requires grad needs no_grad for that
        rec.run("with torch.no_grad(): x += 1", bump, show=None)
        rec.run("z  # shares x's data", lambda: z)
    else:
        def inside():
            with T.no_grad():
                return x ** 2
        y = rec.run("with torch.no_grad(): y = x ** 2", inside)
        rec.run("y.grad_fn", lambda: y.grad_fn, show=_node_name)
        rec.run("y.backward()", lambda: y.backward(), show=None)
        rec.run("y2 = x ** 2  # after the block", lambda: x ** 2)


def _node_name(node):
    """A grad_fn as torch prints it, without the memory address."""
    return "None" if node is None else f"<{type(node).__name__}>"


class TrackingWidget(LiveWidget):
    scenario = staticmethod(_tracking)

    def __init__(self, engine=None):
        super().__init__(engine, {
            "mode": widgets.ToggleButtons(options=TRACKING_MODES, value="none", description="disable with",
                                          style={"button_width": "auto", "description_width": "initial"}),
            "x": widgets.FloatSlider(value=2.0, min=-5.0, max=5.0, step=0.5, description="x",
                                     readout_format=".1f"),
        })

    def values(self):
        values = super().values()
        values["x"] = round(float(values["x"]), 2)
        return values

    def describe(self, values):
        return f"{values['mode']}: {TRACKING_NOTES[values['mode']]}"


def tracking_widget(engine=None):
    """What requires_grad_(False), detach() and no_grad() each switch off, torch vs the engine."""
    return TrackingWidget(engine)


# -- 3. the computational graph of Example 03 -----------------------------------------

def _neuron(rec, T, values):
    x0, y0, w0, b0 = values["x"], values["y"], values["w"], values["b"]
    column = rec.column
    t = {}

    def forward():
        t["x"], t["y"] = T.tensor(x0), T.tensor(y0)
        t["w"], t["b"] = T.tensor(w0, requires_grad=True), T.tensor(b0, requires_grad=True)
        t["z"] = t["w"] * t["x"] + t["b"]
        t["y_pred"] = T.sigmoid(t["z"])
        p = T.clamp(t["y_pred"], EPSILON, 1 - EPSILON)
        t["loss"] = -(t["y"] * T.log(p) + (1 - t["y"]) * T.log(1 - p))
        return t["loss"]

    names = ("w", "b", "z", "y_pred", "loss")
    try:
        rec.run("loss = bce(sigmoid(w * x + b), y)", forward)
        if "loss" in t:
            rec.run("loss.backward()", lambda: t["loss"].backward(), show=None)
            rec.run("w.grad", lambda: t["w"].grad, show=format_value)
            rec.run("b.grad", lambda: t["b"].grad, show=format_value)
    finally:  # draw what exists, even when backward stopped at an open exercise
        if "loss" in t:
            try:
                column.svg = graph_svg(t["loss"], {n: t[n] for n in names}, title=column.title)
            except Exception as error:  # a learner's grad of the wrong type, say: say so, keep the table
                column.problem = (column.problem + " " if column.problem else "") + (
                    f"The graph could not be drawn: {type(error).__name__}: {error}")


class GraphWidget(LiveWidget):
    scenario = staticmethod(_neuron)
    draws_graphs = True

    def __init__(self, engine=None):
        def slider(name, value, low, high):
            return widgets.FloatSlider(value=value, min=low, max=high, step=0.1, description=name,
                                       readout_format=".1f", continuous_update=False)
        super().__init__(engine, {
            "x": slider("x", 6.7, -10.0, 10.0),
            "w": slider("w", 1.0, -5.0, 5.0),
            "b": slider("b", 0.0, -5.0, 5.0),
            "y": widgets.ToggleButtons(options=[0.0, 1.0], value=0.0, description="label y",
                                       style={"button_width": "48px", "description_width": "initial"}),
        })

    def values(self):
        return {name: round(float(value), 2) for name, value in super().values().items()}

    def describe(self, values):
        return (f"z = w * x + b, y_pred = sigmoid(z), loss = BCE(y_pred, y) at "
                f"x = {values['x']}, y = {values['y']}, w = {values['w']}, b = {values['b']}. "
                "Arrows follow the forward pass; backward() walks them in reverse and fills "
                "w.grad and b.grad. x and y do not require grad, so autograd records nothing for them.")


def graph_widget(engine=None):
    """Example 03's graph drawn live from the tensors, torch next to the learner's engine."""
    return GraphWidget(engine)
