"""A throwaway JupyterLab server and a headless Chromium that can only reach it.

The server gets fresh config, runtime and workspace folders (nothing from the machine's own
Jupyter set-up leaks in) and a token; Chromium is the Debian package driven through
Playwright's Python API (never ``playwright install``), with every non-loopback request
blocked.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "T"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


class PortTaken(RuntimeError):
    """Another process took the port between the server's choosing it and listening on it."""


class JupyterLab:
    """``with JupyterLab(notebook_dir, scratch, pythonpath) as lab:`` -- lab.url(...) while it runs."""

    def __init__(self, notebook_dir, scratch, pythonpath=()):
        self.notebook_dir, self.scratch = Path(notebook_dir), Path(scratch)
        self.pythonpath = [str(p) for p in pythonpath]
        self.port, self.process = None, None

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?token={TOKEN}"

    def __enter__(self):
        config, runtime, workspaces = (self.scratch / n for n in ("config", "runtime", "workspaces"))
        for folder in (config / "labconfig", runtime, workspaces):
            folder.mkdir(parents=True, exist_ok=True)
        # the "would you like news?" toast would sit over the notebook and catch key presses
        (config / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        # render every cell: with JupyterLab 4's default windowing, a widget far down a long
        # notebook is not in the page until scrolled to, and a scrolled-away one is removed
        settings = self.scratch / "settings"
        tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True, exist_ok=True)
        tracker.write_text(json.dumps({"windowingMode": "none"}))
        # window.jupyterapp in both front ends, for driving them from the page
        (config / "jupyter_server_config.json").write_text(json.dumps(
            {"LabApp": {"expose_app_in_browser": True},
             "JupyterNotebookApp": {"expose_app_in_browser": True}}))
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(runtime),
                   JUPYTERLAB_WORKSPACES_DIR=str(workspaces), JUPYTERLAB_SETTINGS_DIR=str(settings),
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                   PYTHONPATH=os.pathsep.join(self.pythonpath + [os.environ.get("PYTHONPATH", "")]))
        jupyter = shutil.which("jupyter", path=env["PATH"])
        # Port 0: the server asks the OS for a free port itself and writes it to its runtime file.
        # A port chosen here would stay free only until the server bound it, and kernels started
        # by other test workers meanwhile take ports too (CI once lost a whole module that way).
        # The server still closes and reopens its probe socket, so a rare clash is retried.
        for attempt in range(5):
            for stale in runtime.glob("jpserver-*.json"):  # a killed server's file would mislead
                stale.unlink()
            self.log = open(self.scratch / "jupyter.log", "w")  # noqa: SIM115 - closed in __exit__
            self.process = subprocess.Popen(
                [jupyter, "lab", "--allow-root", "--no-browser", "--ServerApp.ip=127.0.0.1",
                 "--ServerApp.port=0", "--ServerApp.port_retries=0", f"--ServerApp.token={TOKEN}",
                 "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={workspaces}",
                 f"--ServerApp.root_dir={self.notebook_dir}"],
                cwd=self.notebook_dir, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own process group: the kernels it starts stop with it
            try:
                self._wait_until_up(runtime, timeout=90)
                return self
            except PortTaken:
                self.__exit__(None, None, None)
                if attempt == 4:
                    raise
            except BaseException:
                self.__exit__(None, None, None)
                raise

    def _wait_until_up(self, runtime, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_text()
                taken = PortTaken if "already in use" in log else RuntimeError
                raise taken(f"jupyter lab exited with {self.process.returncode}:\n{log}")
            if self.port is None:
                self.port = self._port_from(runtime)
                if self.port is None:
                    time.sleep(0.3)
                    continue
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"jupyter lab did not answer within {timeout}s:\n{self.log_text()}")

    def _port_from(self, runtime):
        """The port in the server's jpserver-<pid>.json, once it has written it (after binding)."""
        for info in runtime.glob("jpserver-*.json"):
            try:
                return json.loads(info.read_text())["port"]
            except (OSError, ValueError, KeyError):
                return None  # still being written
        return None

    def api(self, path, method="GET"):
        request = urllib.request.Request(self.url(f"api/{path}"), method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def end_sessions(self):
        """Shut down every kernel the browser started: the next test starts from a fresh kernel."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def log_text(self):
        self.log.flush()
        return (self.scratch / "jupyter.log").read_text()[-4000:]

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # our own group only: server + its kernels
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.log.close()
        self.port = None


def loopback_only(route):
    """context.route handler: let requests to the test server through, refuse everything else."""
    host = urlparse(route.request.url).hostname or ""
    if host in LOOPBACK or route.request.url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        route.abort()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


KERNEL_READY = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const context = widget && widget.sessionContext;
    const kernel = context && context.session && context.session.kernel;
    return !!(kernel && context.isReady && kernel.connectionStatus === 'connected'
              && kernel.status === 'idle');
}"""

RUN_FINISHED = """() => {
    const widget = window.jupyterapp.shell.currentWidget;
    const kernel = widget.sessionContext.session.kernel;
    const prompts = Array.from(document.querySelectorAll('.jp-InputPrompt')).map(p => p.innerText);
    return kernel.status === 'idle' && prompts.length > 0 && !prompts.some(p => p.includes('*'));
}"""


# -- colour contrast, as WCAG 2 defines it --------------------------------------------------------

def parse_colour(text):
    """A computed CSS colour -> (r, g, b, alpha), channels 0-1: rgb()/rgba() and Chromium's
    color(srgb ...) (what color-mix() computes to)."""
    text = text.strip()
    if text in ("none", "transparent", ""):
        return (0.0, 0.0, 0.0, 0.0)
    inner = text[text.index("(") + 1:text.rindex(")")]
    if text.startswith("color("):
        space, *rest = inner.replace("/", " ").split()
        if space != "srgb":
            raise ValueError(f"colour space {space} in {text!r}")
        channels = [float(v) for v in rest]
    elif text.startswith("rgb"):
        channels = [float(v) for v in inner.replace(",", " ").replace("/", " ").split()]
        channels[:3] = [v / 255 for v in channels[:3]]
    else:
        raise ValueError(f"unexpected computed colour {text!r}")
    return tuple(channels[:3]) + (channels[3] if len(channels) > 3 else 1.0,)


def over(top, bottom):
    """``top`` (r, g, b, alpha) painted over an opaque ``bottom`` (r, g, b)."""
    r, g, b, a = top
    return tuple(a * c + (1 - a) * d for c, d in zip((r, g, b), bottom))


def effective_background(layers):
    """Backgrounds from the element outwards ([colour, opacity] pairs): composite from the first
    opaque one (white, the canvas, if none is) back in to the element."""
    colours = []
    for colour, opacity in layers:
        r, g, b, a = parse_colour(colour)
        colours.append((r, g, b, a * float(opacity)))
        if colours[-1][3] >= 1:
            break
    background = (1.0, 1.0, 1.0)
    for colour in reversed(colours):
        background = over(colour, background)
    return background


def luminance(rgb):
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground, background):
    """WCAG contrast ratio of two opaque colours, 1 to 21."""
    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# For every element matching the selector that holds text: its colour (an SVG text's fill) and the
# backgrounds behind it, innermost first: for SVG text the node's box and the drawing's card
# (rects, not ancestors), then each HTML ancestor's background up to the root.
TEXT_COLOURS = """(selector) => {
    const paint = (el) => { const s = getComputedStyle(el); return [s.fill, s.fillOpacity]; };
    const layers = (el) => {
        const out = [];
        let node = el;
        if (el instanceof SVGElement) {
            const svg = el.closest('svg');
            const box = el.closest('g.node');
            if (box) out.push(paint(box.querySelector('rect')));
            for (const rect of svg.querySelectorAll(':scope > rect')) out.push(paint(rect));
            node = svg;
        }
        for (; node && node.nodeType === 1; node = node.parentElement) {
            out.push([getComputedStyle(node).backgroundColor, '1']);
        }
        return out;
    };
    return Array.from(document.querySelectorAll(selector)).filter(el => el.textContent.trim()).map(el => {
        const inner = el.querySelector('code') || el;  // the text is drawn in the <code> of a cell
        const s = getComputedStyle(inner);
        const svg = inner instanceof SVGElement;
        return {text: el.textContent.trim().slice(0, 50), colour: svg ? s.fill : s.color,
                opacity: svg ? s.fillOpacity : '1', layers: layers(inner)};
    });
}"""


def low_contrast(page, selector, minimum=4.5):
    """Texts under ``selector`` whose contrast with what is behind them is below ``minimum``,
    as (text, colour, background, ratio); and how many texts were measured."""
    found, measured = [], page.evaluate(TEXT_COLOURS, selector)
    for item in measured:
        background = effective_background(item["layers"])
        r, g, b, a = parse_colour(item["colour"])
        text = over((r, g, b, a * float(item["opacity"])), background)
        ratio = contrast(text, background)
        if ratio < minimum:
            found.append((item["text"], item["colour"], tuple(round(255 * c) for c in background), round(ratio, 2)))
    return found, len(measured)
