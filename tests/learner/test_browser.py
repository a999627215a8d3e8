"""The live widgets in real JupyterLab 4 and Notebook 7 front ends, in headless Chromium.

Opens a temporary copy of the solution notebooks (or small stand-ins for any not written yet),
runs every cell, moves a slider as a learner would, and checks that the widget shows the
gradient torch computes here, for torch and for the engine.

Needs the Debian package ``chromium`` (/usr/bin/chromium) and the Python package
``playwright`` (no ``playwright install``: the system Chromium is used).
"""

import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
import torch
from browser_helpers import (
    CHROMIUM,
    KERNEL_READY,
    RUN_FINISHED,
    JupyterLab,
    contrast,
    effective_background,
    launch_chromium,
    loopback_only,
    low_contrast,
    over,
    parse_colour,
)
from test_widgets import engine_folder

from autograder.learner.engines import REPO, SOLUTIONS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                       "(apt-get install -y chromium)"),
]

# the notebook that shows each widget
NOTEBOOKS = {"accumulation_widget": "05_clearing_gradients.ipynb", "graph_widget": "03_neuron_bce.ipynb"}
WIDGET = ".jp-NotebookPanel:not(.lm-mod-hidden) .agw-widget"  # in the notebook on show, not a hidden tab


def stand_in_notebook(folder, widget):
    """Just the widget, for as long as the real notebook is not in solutions/."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(f"from autograder.learner.widgets import {widget}\n\n{widget}()")]
    nbformat.write(nb, folder / NOTEBOOKS[widget])


@pytest.fixture(scope="session")
def artifacts():
    """Screenshots to look at after a run, passed or failed: $TEST_ARTIFACTS, or a folder of the
    system's temporary directory. Not pytest's base temp, which its next runs on the machine remove."""
    folder = Path(os.environ.get("TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "tinygrad-course-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("lab")
    notebooks = scratch / "notebooks"
    shutil.copytree(SOLUTIONS, notebooks, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    for widget, name in NOTEBOOKS.items():
        if not (notebooks / name).exists():
            stand_in_notebook(notebooks, widget)
    theme_notebook(notebooks / "themes")
    with JupyterLab(notebooks, scratch, pythonpath=[REPO]) as server:  # stopped on leaving the fixture
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def open_notebook(lab, browser, artifacts):
    """``open_notebook(url_path, artifact_name)``: a page with the notebook run top to bottom."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", loopback_only)
    page, names = context.new_page(), []

    def run_all(path, name):
        names.append(name)
        # a workspace of its own: JupyterLab would otherwise reopen an earlier test's notebook
        page.goto(lab.url(path.replace("lab/tree/", f"lab/workspaces/{name}/tree/")))
        page.wait_for_function(KERNEL_READY, timeout=90_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(RUN_FINISHED, timeout=180_000, polling=500)
        widget = page.locator(WIDGET).first
        widget.wait_for(timeout=30_000)
        widget.scroll_into_view_if_needed()
        return page, widget

    yield run_all
    try:
        if names:  # how the page looked at the end, passed or failed: the first thing to look at
            page.screenshot(path=str(artifacts / f"{names[0]}_at_end.png"))
    finally:
        context.close()
        lab.end_sessions()  # the next test starts with a fresh kernel


def move_slider(widget, control, frontend, steps, step=1.0):
    """Move a slider ``steps`` steps to the right, as a learner would.

    JupyterLab: focus the handle, press ArrowRight. Notebook 7 binds ArrowRight (heading
    navigation) in the capture phase, so the key never reaches a focused slider there; a learner
    drags the handle instead, and so do we (a click on the track next to the handle would land
    on the handle itself and move nothing)."""
    slider = widget.locator(f".agw-control-{control}")
    handle = slider.locator(".noUi-handle")
    if frontend == "jupyterlab":
        handle.focus()
        for _ in range(steps):
            handle.press("ArrowRight")
        return
    low, high, now = (float(handle.get_attribute(f"aria-value{a}")) for a in ("min", "max", "now"))
    slider.scroll_into_view_if_needed()
    track, grip = slider.locator(".noUi-base").bounding_box(), handle.bounding_box()
    target_x = track["x"] + track["width"] * (now + steps * step - low) / (high - low)
    mouse, y = slider.page.mouse, grip["y"] + grip["height"] / 2
    mouse.move(grip["x"] + grip["width"] / 2, y)
    mouse.down()
    mouse.move(target_x, y, steps=5)
    mouse.up()


def torch_grads(x0, calls, zero_between):
    x = torch.tensor(x0, requires_grad=True)
    for call in range(calls):
        if zero_between and call:
            x.grad.zero_()
        (x ** 2).backward()
    return repr(x.grad)


SHOWN_GRADS = """(role) => Array.from(document.querySelectorAll('WIDGET .agw-comparison tr'))
    .filter(tr => tr.querySelector('.agw-code') &&
                  tr.querySelector('.agw-code').innerText.startsWith('y = x ** 2; y.backward(); x.grad'))
    .map(tr => tr.querySelector('.agw-' + role).innerText.trim())""".replace("WIDGET", WIDGET)


@pytest.mark.parametrize("frontend, path", [("jupyterlab", "lab/tree/"), ("notebook7", "notebooks/")])
def test_accumulation_slider_updates_the_gradients(open_notebook, artifacts, frontend, path):
    name = f"accumulation_widget_{frontend}"
    page, widget = open_notebook(path + NOTEBOOKS["accumulation_widget"], name)

    def wait_for_grads(calls, zero_between):
        expected = torch_grads(2.0, calls, zero_between)
        for role in ("torch", "learner"):
            page.wait_for_function(
                f"(expected) => {{ const g = ({SHOWN_GRADS})('{role}'); "
                f"return g.length === {calls} && g[g.length - 1] === expected; }}",
                arg=expected, timeout=30_000)
            shown = page.evaluate(SHOWN_GRADS, role)
            assert shown[-1] == expected, (role, shown)

    wait_for_grads(1, False)
    for label in ("x", "backward() calls"):  # named in both front ends (the theme test checks them all)
        widget.get_by_role("slider", name=label, exact=True).wait_for(timeout=10_000)
    move_slider(widget, "calls", frontend, 2)
    wait_for_grads(3, False)
    assert widget.locator(".agw-control-calls .widget-readout").inner_text().strip() == "3"
    verdicts = widget.locator(".agw-comparison .agw-verdict").all_inner_texts()
    assert verdicts and all(v.strip() == "\u2713" for v in verdicts), verdicts

    widget.locator(".agw-control-zero_between input[type=checkbox]").check()
    wait_for_grads(3, True)
    move_slider(widget, "calls", frontend, 1)
    wait_for_grads(4, True)
    widget.screenshot(path=str(artifacts / f"{name}.png"))


LEAF_TEXT = """(label) => Array.from(document.querySelectorAll(
    'WIDGET svg.autograd-graph g.node.leaf[data-label="' + label + '"]'))
    .map(g => Array.from(g.querySelectorAll('text')).map(t => t.textContent))""".replace("WIDGET", WIDGET)


def test_graph_widget_draws_svg_and_redraws_on_a_slider(open_notebook, artifacts):
    name = "graph_widget_jupyterlab"
    page, widget = open_notebook("lab/tree/" + NOTEBOOKS["graph_widget"], name)
    assert widget.locator("svg.autograd-graph").count() == 2, "torch's graph and the engine's, inline"
    box = widget.locator("svg.autograd-graph g.node").first.bounding_box()
    assert box and box["width"] > 20 and box["height"] > 10, "the SVG is laid out, not just present"

    move_slider(widget, "w", "jupyterlab", 3)  # w: 1.0 -> 1.3 in steps of 0.1
    w = torch.tensor(1.3, requires_grad=True)
    prediction = torch.sigmoid(w * torch.tensor(6.7)).clamp(1e-8, 1 - 1e-8)
    loss = -(torch.tensor(0.0) * torch.log(prediction) + (1 - torch.tensor(0.0)) * torch.log(1 - prediction))
    loss.backward()
    expected = ["w (leaf)", "= 1.3000", f"grad = {w.grad.item():.4f}"]
    page.wait_for_function(f"(expected) => {{ const leaves = ({LEAF_TEXT})('w'); return leaves.length === 2 && "
                           "leaves.every(l => JSON.stringify(l) === JSON.stringify(expected)); }",
                           arg=expected, timeout=30_000)
    widget.screenshot(path=str(artifacts / f"{name}.png"))


# -- light and dark theme: readable colours, named controls, a visible focus ----------------------

THEME_CELLS = [
    "from autograder.learner.engines import load_engine\n"
    "from autograder.learner.widgets import accumulation_widget, graph_widget, tracking_widget",
    # ./tinygrad_course has zero_ open: rows that agree, an open row and the problem box
    "open_row = accumulation_widget()\nopen_row.calls.value = 3\nopen_row.zero_between.value = True\nopen_row",
    # a gradient overwritten instead of accumulated: rows that differ from torch
    "buggy = load_engine('.', '_theme_buggy_engine')\n\n"
    "def overwrite(self, grad):\n"
    "    self.variable.grad = buggy.Tensor._make(grad.copy())\n"
    "    return ()\n\n"
    "buggy.engine.AccumulateGrad.apply = overwrite\n"
    "differs = accumulation_widget(buggy)\ndiffers.calls.value = 3\ndiffers",
    # errors in both columns (torch's own RuntimeError), and toggle buttons
    "errors = tracking_widget()\nerrors.mode.value = 'requires_grad_(False)'\nerrors",
    "graph_widget()",
    # show_graph's image/svg+xml: JupyterLab shows it as an <img>, out of reach of theme variables
    "import torch\nfrom autograder.learner.graph import show_graph\n\nw = torch.tensor(1.0, requires_grad=True)\n"
    "show_graph(torch.sigmoid(w * 2.0), {'w': w}, title='show_graph')",
]
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
SHOWN = ".jp-NotebookPanel:not(.lm-mod-hidden)"
TEXTS = ", ".join(f"{SHOWN} .agw-widget {part}" for part in (
    ".agw-table th", ".agw-table td", ".agw-caption", ".agw-problem", "svg.autograd-graph text"))


def theme_notebook(folder):
    """Every widget in every kind of row, next to an engine with the zero_ exercise open."""
    folder.mkdir()
    engine_folder(folder, open_exercises=["zero_"])
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in THEME_CELLS]
    nbformat.write(nb, folder / "widgets_in_themes.ipynb")


def change_theme(page, theme):
    page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
    page.wait_for_function("(theme) => document.body.dataset.jpThemeName === theme", arg=theme, timeout=30_000)


def focus_outline(page, handle, screenshot):
    """A keyboard-focused slider handle's outline: (style, width in px, contrast with the page
    around the slider: the ring is drawn mostly there, outside the thin track)."""
    handle.focus()
    handle.press("Shift")  # a key press: focus from the keyboard, so :focus-visible applies
    handle.locator("xpath=ancestor::*[contains(@class, 'widget-slider')][1]").screenshot(path=screenshot)
    style = handle.evaluate("""h => { const s = getComputedStyle(h);
        const layers = [];
        for (let n = h.closest('.widget-slider'); n; n = n.parentElement) {
            layers.push([getComputedStyle(n).backgroundColor, '1']);
        }
        return {style: s.outlineStyle, width: s.outlineWidth, colour: s.outlineColor, layers}; }""")
    background = effective_background(style["layers"])
    colour = over(parse_colour(style["colour"]), background)
    return style["style"], float(style["width"].rstrip("px") or 0), contrast(colour, background)


def unnamed_controls(page):
    """Controls a screen reader cannot name as their label reads (empty: all named)."""
    problems, sliders = [], page.locator(f"{SHOWN} .agw-widget .widget-slider")
    if sliders.count() != 8:  # (x, calls) twice; x; x, w, b
        problems.append(f"{sliders.count()} sliders")
    for slider in sliders.all():
        label = slider.locator(".widget-label").inner_text().strip()
        if slider.get_by_role("slider", name=label, exact=True).count() != 1:
            problems.append(f"slider {label!r} has no accessible name {label!r}")
    named = {
        "checkbox 'call x.grad.zero_() between calls'":
            page.get_by_role("checkbox", name="call x.grad.zero_() between calls", exact=True),
        "pressed button 'requires_grad_(False)' in group 'disable with'":
            page.get_by_role("group", name="disable with", exact=True).get_by_role(
                "button", name="requires_grad_(False)", exact=True, pressed=True),
        "unpressed button 'none' in group 'disable with'":
            page.get_by_role("group", name="disable with", exact=True).get_by_role(
                "button", name="none", exact=True, pressed=False),
        "pressed button '0.0' in group 'label y'":
            page.get_by_role("group", name="label y", exact=True).get_by_role(
                "button", name="0.0", exact=True, pressed=True),
    }
    problems += [f"no {what}" for what, locator in named.items() if not locator.count()]
    return problems


def test_widgets_read_well_and_name_their_controls_in_light_and_dark(open_notebook, artifacts):
    page, _ = open_notebook("lab/tree/themes/widgets_in_themes.ipynb", "widgets_in_themes")
    widgets = page.locator(f"{SHOWN} .agw-widget")
    page.wait_for_function(f"() => document.querySelectorAll('{SHOWN} .agw-widget').length === 4 && "
                           f"document.querySelectorAll('{SHOWN} svg.autograd-graph').length === 2", timeout=30_000)
    for kind in ("agw-agree", "agw-differ", "agw-open", "agw-error", "agw-problem"):
        assert page.locator(f"{SHOWN} .{kind}").count(), f"the notebook shows no .{kind} to measure"

    failures = []
    try:
        for theme, name in THEMES.items():
            change_theme(page, name)
            for i in range(widgets.count()):
                widgets.nth(i).screenshot(path=str(artifacts / f"widgets_{theme}_{i}.png"))
            page.locator(f"{SHOWN} img[src^='data:image/svg+xml']").screenshot(
                path=str(artifacts / f"show_graph_{theme}.png"))  # to look at: pixels, not measured here
            found, measured = low_contrast(page, TEXTS)
            assert measured > 40, f"only {measured} texts measured in the {theme} theme"
            failures += [(theme, *f) for f in found]
            titles = page.locator(f"{SHOWN} svg.autograd-graph text.title").all_text_contents()
            assert titles[0] == "torch" and titles[1].startswith("your engine"), titles
            outline_style, outline_width, outline_contrast = focus_outline(
                page, widgets.nth(0).locator(".agw-control-x [role=slider]"),
                str(artifacts / f"widgets_{theme}_focused_slider.png"))
            if outline_style == "none" or outline_width < 2 or outline_contrast < 3:
                failures.append((theme, "focused slider handle", outline_style, outline_width,
                                 round(outline_contrast, 2)))
    finally:
        change_theme(page, THEMES["light"])  # the server's settings outlive this test
    failures += unnamed_controls(page)
    assert not failures, ("texts below 4.5:1 (a focus outline below 3:1) against their background, "
                          "unnamed controls:\n" + "\n".join(map(repr, failures)))
