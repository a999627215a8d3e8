"""The accumulation widget in real JupyterLab 4 and Notebook 7 front ends, in headless Chromium.

Opens the clearing-gradients notebook (a temporary copy of solutions/, or a small stand-in
notebook while that notebook is not written yet), runs every cell, moves the backward()-calls
slider with the keyboard, and checks that both columns show the gradient torch computes here.

Needs the Debian package ``chromium`` (/usr/bin/chromium) and the Python package
``playwright`` (no ``playwright install``: the system Chromium is used).
"""

import shutil

import nbformat
import pytest
import torch
from browser_helpers import CHROMIUM, KERNEL_READY, JupyterLab, launch_chromium, loopback_only

from autograder.engines import REPO, SOLUTIONS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                       "(apt-get install -y chromium)"),
]

NOTEBOOK = "05_clearing_gradients.ipynb"
ARTIFACTS = REPO / "test-artifacts"


def stand_in_notebook(folder):
    """Just the widget, for as long as the real notebook is not in solutions/."""
    shutil.copytree(SOLUTIONS / "tinygrad_course", folder / "tinygrad_course",
                    ignore=shutil.ignore_patterns("__pycache__"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("from autograder.widgets import accumulation_widget"),
                nbformat.v4.new_code_cell("accumulation_widget()")]
    nbformat.write(nb, folder / NOTEBOOK)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("lab")
    notebooks = scratch / "notebooks"
    if (SOLUTIONS / NOTEBOOK).exists():
        shutil.copytree(SOLUTIONS, notebooks, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    else:
        notebooks.mkdir()
        stand_in_notebook(notebooks)
    with JupyterLab(notebooks, scratch, pythonpath=[REPO]) as server:  # stopped on leaving the fixture
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def torch_grads(x0, calls, zero_between):
    x = torch.tensor(x0, requires_grad=True)
    for call in range(calls):
        if zero_between and call:
            x.grad.zero_()
        (x ** 2).backward()
    return repr(x.grad)


SHOWN_GRADS = """(role) => Array.from(document.querySelectorAll('.agw-widget .agw-comparison tr'))
    .filter(tr => tr.querySelector('.agw-code') &&
                  tr.querySelector('.agw-code').innerText.startsWith('y = x ** 2; y.backward(); x.grad'))
    .map(tr => tr.querySelector('.agw-' + role).innerText.trim())"""


@pytest.mark.parametrize("frontend, path", [("jupyterlab", f"lab/tree/{NOTEBOOK}"),
                                            ("notebook7", f"notebooks/{NOTEBOOK}")])
def test_accumulation_slider_updates_the_gradients(lab, browser, frontend, path):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", loopback_only)
    page = context.new_page()
    try:
        page.goto(lab.url(path))
        page.wait_for_function(KERNEL_READY, timeout=90_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        widget = page.locator(".agw-widget").first
        widget.wait_for(timeout=90_000)
        widget.scroll_into_view_if_needed()

        def wait_for_grads(calls, zero_between):
            expected = torch_grads(2.0, calls, zero_between)
            for role in ("torch", "learner"):
                page.wait_for_function(
                    f"(expected) => {{ const g = ({SHOWN_GRADS})('{role}'); "
                    f"return g.length === {calls} && g[g.length - 1] === expected; }}",
                    arg=expected, timeout=30_000)
                shown = page.evaluate(SHOWN_GRADS, role)
                assert shown[-1] == expected, (role, shown)
            return expected

        wait_for_grads(1, False)
        handle = widget.locator(".agw-control-calls .noUi-handle")
        handle.focus()
        for _ in range(2):
            handle.press("ArrowRight")
        wait_for_grads(3, False)
        assert widget.locator(".agw-control-calls .widget-readout").inner_text().strip() == "3"
        verdicts = widget.locator(".agw-comparison .agw-verdict").all_inner_texts()
        assert verdicts and all(v.strip() == "\u2713" for v in verdicts), verdicts

        widget.locator(".agw-control-zero_between input[type=checkbox]").check()
        wait_for_grads(3, True)
        handle.press("ArrowRight")
        wait_for_grads(4, True)
        widget.screenshot(path=str(ARTIFACTS / f"accumulation_widget_{frontend}.png"))
        page.screenshot(path=str(ARTIFACTS / f"accumulation_widget_{frontend}_page.png"))
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"accumulation_widget_{frontend}_failure.png"))
        raise
    finally:
        context.close()
