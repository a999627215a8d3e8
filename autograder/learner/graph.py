"""Draw the graph autograd recorded for a tensor, as plain SVG.

One routine serves torch and ``tinygrad_course`` alike: both name their nodes like torch
(``MulBackward0``), link them through ``next_functions`` and end each path at an
``AccumulateGrad`` whose ``variable`` is the leaf tensor.

    show_graph(loss, names={"w": w, "b": b, "z": z, "loss": loss})

Arrows point the way data flows in the forward pass; ``backward()`` walks them in reverse.
Leaves show their value and ``grad``; an op node shows the value of a tensor named in
``names`` whose ``grad_fn`` it is.  Inputs that do not require grad are not in the graph
(autograd records nothing for them), so they are not drawn.
"""

from collections import deque
from dataclasses import dataclass, field
from html import escape

import numpy as np

FONT_SIZE, CHAR_WIDTH, LINE_HEIGHT = 12, 7.3, 16
PAD_X, PAD_Y, GAP_X, GAP_Y, MARGIN = 10, 6, 24, 34, 12
# Colours that read on a light and a dark page alike. Each kind's colour is a mid-tone (about 3:1
# against white and against JupyterLab's dark grey); a box is that colour at low opacity over
# the background, and all text is the theme's text colour. Inline (in a widget) the drawing
# follows JupyterLab's theme variables; as an <img> (how JupyterLab shows image/svg+xml) no
# variables reach it, so the fallbacks draw dark text on a white card.
KIND_COLOUR = {"leaf": "#3b82f6", "op": "#8b95a7", "named": "#b8860b", "output": "#16a34a"}
BOX_OPACITY = 0.16
TEXT_COLOUR = "var(--jp-content-font-color1, #1f2937)"
CARD_COLOUR = "var(--jp-layout-color1, #ffffff)"


@dataclass
class GraphNode:
    key: str          # n0, n1, ...: stable within one drawing, never a memory address
    kind: str         # "leaf", "op", "named" (an op whose tensor is in names) or "output"
    node_name: str    # torch's node class name, e.g. "MulBackward0"; "" for an output without one
    label: str = ""   # the name from ``names`` ("" when unnamed)
    value: str = ""   # the tensor's numbers, when the node's tensor is known
    grad: str = ""    # a leaf's .grad ("None" before backward)
    inputs: list = field(default_factory=list)  # keys of the nodes feeding this one

    @property
    def lines(self):
        lines = [f"= {self.value}"] if self.value else []
        if self.kind == "leaf":
            lines.append(f"grad = {self.grad}")
        if self.kind == "output" and not self.node_name:
            lines.append("no grad_fn: nothing recorded")
        return lines


@dataclass
class Graph:
    nodes: dict       # key -> GraphNode, in discovery order from the output
    edges: list       # (from_key, to_key): forward direction

    def describe(self):
        """The graph as text, inputs first: a stable plain-text stand-in for the drawing."""
        order, out = topological(self), []
        short = _short_names(order)
        for node in order:
            text = " ".join(p for p in (node.label, node.value and f"= {node.value}") if p)
            if node.kind == "leaf":
                text += f", grad = {node.grad}"
            if node.node_name:
                text += f"  [{node.node_name}]" if text else short[node.key]
            if node.inputs:
                text += "  <- " + ", ".join(short[k] for k in node.inputs)
            out.append(text)
        return "\n".join(out)


def build_graph(output, names=None):
    """Walk ``output.grad_fn`` and its ``next_functions`` into a :class:`Graph`."""
    names = _check_names(names)
    if not hasattr(output, "grad_fn"):
        raise TypeError(f"graph drawing needs a tensor (torch or tinygrad_course), got {type(output).__name__}")
    label = _name_of(output, names) or "output"
    root = output.grad_fn
    if root is None:
        return Graph({"n0": GraphNode("n0", "output", "", label, format_value(output))}, [])
    nodes, edges, keys, queue = {}, [], {}, deque([root])

    def key_for(fn):
        if id(fn) not in keys:
            keys[id(fn)] = (f"n{len(keys)}", fn)  # keep fn referenced so its id is not reused
        return keys[id(fn)][0]

    while queue:
        fn = queue.popleft()
        key = key_for(fn)
        if key in nodes:
            continue
        nodes[key] = _describe_node(key, fn, names)
        for child, _ in getattr(fn, "next_functions", ()):
            if child is not None:  # None: an input that does not require grad
                nodes[key].inputs.append(key_for(child))
                edges.append((key_for(child), key))
                queue.append(child)
    top = nodes[key_for(root)]
    top.kind, top.label, top.value = "output", label, format_value(output)
    return Graph(nodes, edges)


def _check_names(names):
    names = dict(names or {})
    for label, value in names.items():
        if not isinstance(label, str):
            raise TypeError(f"names maps a label (str) to a tensor; got the key {label!r}")
        if not hasattr(value, "grad_fn") or not hasattr(value, "requires_grad"):
            raise TypeError(f"names[{label!r}] is a {type(value).__name__}, not a tensor")
    return names


def _name_of(tensor, names):
    return next((label for label, t in names.items() if t is tensor), "")


def _describe_node(key, fn, names):
    node_name = type(fn).__name__
    variable = getattr(fn, "variable", None)
    if node_name == "AccumulateGrad" and variable is not None:
        return GraphNode(key, "leaf", node_name, _name_of(variable, names) or "leaf",
                         format_value(variable), format_value(variable.grad))
    label = next((label for label, t in names.items() if t.grad_fn is fn), "")
    if label:
        return GraphNode(key, "named", node_name, label, format_value(names[label]))
    return GraphNode(key, "op", node_name)


def format_value(tensor, limit=6):
    """A tensor's numbers with 4 decimals, as torch prints them; ``None`` stays ``None``."""
    if tensor is None:
        return "None"
    data = tensor.data
    array = np.asarray(data.numpy() if hasattr(data, "numpy") else data, dtype=np.float64)
    if array.ndim == 0:
        return f"{float(array):.4f}"
    flat = [f"{v:.4f}" for v in array.ravel()[:limit]]
    more = ", ..." if array.size > limit else ""
    return "[" + ", ".join(flat) + more + "]"


def _short_names(order):
    """A node's name in the text: its label, else its op name, numbered where an op repeats."""
    counts, seen, names = {}, {}, {}
    for node in order:
        if not node.label:
            counts[node.node_name] = counts.get(node.node_name, 0) + 1
    for node in order:
        if node.label:
            names[node.key] = node.label
        elif counts[node.node_name] > 1:
            seen[node.node_name] = seen.get(node.node_name, 0) + 1
            names[node.key] = f"{node.node_name}#{seen[node.node_name]}"
        else:
            names[node.key] = node.node_name
    return names


def topological(graph):
    """Nodes, every input before the nodes that use it (ties in discovery order)."""
    order, done = [], set()

    def visit(key):
        if key in done:
            return
        done.add(key)
        for k in graph.nodes[key].inputs:
            visit(k)
        order.append(graph.nodes[key])
    for key in reversed(list(graph.nodes)):
        visit(key)
    return order


# -- layout: layers, virtual points on long edges, barycentre ordering ------

def _layers(graph):
    """Each node's row: one below its lowest input; a leaf sits just above its first user."""
    layer = {}
    for node in topological(graph):
        layer[node.key] = 1 + max((layer[k] for k in node.inputs), default=-1)
    consumers = _consumers(graph)
    for node in graph.nodes.values():
        if not node.inputs and consumers[node.key]:
            layer[node.key] = min(layer[k] for k in consumers[node.key]) - 1
    return layer


def _consumers(graph):
    consumers = {key: [] for key in graph.nodes}
    for src, dst in graph.edges:
        consumers[src].append(dst)
    return consumers


def _rows_and_routes(graph):
    """Rows of keys (virtual points ``v<i>`` included) and each edge's chain of keys."""
    layer = _layers(graph)
    rows = [[] for _ in range(max(layer.values()) + 1)]
    for key in graph.nodes:
        rows[layer[key]].append(key)
    above, below, routes = {}, {}, []
    for src, dst in graph.edges:
        chain = [src]
        for row in range(layer[src] + 1, layer[dst]):
            point = f"v{sum(len(r) for r in rows)}"
            rows[row].append(point)
            chain.append(point)
        chain.append(dst)
        routes.append(chain)
        for a, b in zip(chain, chain[1:]):
            below.setdefault(a, []).append(b)
            above.setdefault(b, []).append(a)
    for _ in range(3):  # a few sweeps each way settle small graphs well enough
        for i in range(1, len(rows)):
            _reorder(rows[i], rows[i - 1], above)
        for i in range(len(rows) - 2, -1, -1):
            _reorder(rows[i], rows[i + 1], below)
    return rows, routes, above


def _reorder(row, neighbour_row, links):
    position = {k: i for i, k in enumerate(neighbour_row)}

    def barycentre(item):
        i, key = item
        linked = [position[k] for k in links.get(key, ()) if k in position]
        return (sum(linked) / len(linked) if linked else i, i)
    row[:] = [key for _, key in sorted(enumerate(row), key=barycentre)]


def _box_size(node):
    texts = [_title(node)] + node.lines
    width = max(len(t) for t in texts) * CHAR_WIDTH + 2 * PAD_X
    return width, len(texts) * LINE_HEIGHT + 2 * PAD_Y


def _title(node):
    if node.kind == "op":
        return node.node_name
    if node.kind == "leaf":
        return f"{node.label} (leaf)"
    if node.node_name:
        return f"{node.label}: {node.node_name}"
    return node.label


def layout(graph):
    """Box positions ``key -> (x, y, width, height)``, edge routes, and the drawing's size.

    Rows go top to bottom; within a row each box is centred under the boxes feeding it,
    then pushed right just enough not to overlap its left neighbour."""
    rows, routes, above = _rows_and_routes(graph)
    sizes = {k: _box_size(n) for k, n in graph.nodes.items()}
    boxes, y, centre = {}, MARGIN, {}
    for row in rows:
        height = max((sizes[k][1] for k in row if k in sizes), default=LINE_HEIGHT)
        wanted = [sum(centre[k] for k in above[key]) / len(above[key]) if above.get(key) else None
                  for key in row]
        widths = [sizes[k][0] if k in sizes else 0 for k in row]
        xs, right = [], None
        for want, w in zip(wanted, widths):
            x = (want - w / 2) if want is not None else (right if right is not None else 0)
            if right is not None:
                x = max(x, right)
            xs.append(x)
            right = x + w + (GAP_X if w else GAP_X / 2)
        placed = [(x + w / 2 - want) for x, w, want in zip(xs, widths, wanted) if want is not None]
        shift = sum(placed) / len(placed) if placed else 0
        for key, x, w in zip(row, xs, widths):
            h = sizes[key][1] if key in sizes else height
            boxes[key] = (x - shift, y + (height - h) / 2, w, h)
            centre[key] = x - shift + w / 2
        y += height + GAP_Y
    left = min(x for x, _, _, _ in boxes.values())
    boxes = {k: (x - left + MARGIN, by, w, h) for k, (x, by, w, h) in boxes.items()}
    width = max(x + w for x, _, w, _ in boxes.values()) + MARGIN
    return boxes, routes, width, y - GAP_Y + MARGIN


# -- SVG ---------------------------------------------------------------------

def render_svg(graph, title=None):
    boxes, routes, width, height = layout(graph)
    top = LINE_HEIGHT + 4 if title else 0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="autograd-graph" width="{width:.0f}" '
             f'height="{height + top:.0f}" viewBox="0 0 {width:.0f} {height + top:.0f}" '
             f'font-family="monospace" font-size="{FONT_SIZE}" style="color: {TEXT_COLOUR}">',
             f'<rect class="card" width="100%" height="100%" rx="4" style="fill: {CARD_COLOUR}"/>']
    if title:
        parts.append(f'<text class="title" x="{MARGIN}" y="{LINE_HEIGHT}" font-weight="bold" '
                     f'fill="currentColor">{escape(title)}</text>')
    parts.append(f'<g transform="translate(0,{top})">')
    for chain in routes:
        parts.append(_edge_svg(chain, boxes))
    for key, node in graph.nodes.items():
        parts.append(_node_svg(node, boxes[key]))
    parts.append("</g></svg>")
    return "\n".join(parts)


def _edge_svg(chain, boxes):
    """A smooth path from the bottom of the first box through virtual points to the last box."""
    points = []
    for i, key in enumerate(chain):
        x, y, w, h = boxes[key]
        if i == 0:
            points.append((x + w / 2, y + h))
        elif i == len(chain) - 1:
            points.append((x + w / 2, y - 6))
        else:
            points.extend([(x, y), (x, y + h)])
    path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        bend = (y2 - y1) / 2
        path += f" C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}"
    x2, y2 = points[-1]
    arrow = f"{x2 - 4:.1f},{y2:.1f} {x2 + 4:.1f},{y2:.1f} {x2:.1f},{y2 + 6:.1f}"
    return (f'<g class="edge" data-from="{chain[0]}" data-to="{chain[-1]}">'
            f'<path d="{path}" fill="none" stroke="currentColor" stroke-opacity="0.6" stroke-width="1.3"/>'
            f'<polygon points="{arrow}" fill="currentColor" fill-opacity="0.6"/></g>')


def _node_svg(node, box):
    x, y, w, h = box
    attrs = (f'class="node {node.kind}" data-key="{node.key}" data-node="{escape(node.node_name)}" '
             f'data-label="{escape(node.label)}"')
    out = [f"<g {attrs}>",
           f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
           f'fill="{KIND_COLOUR[node.kind]}" fill-opacity="{BOX_OPACITY}" stroke="{KIND_COLOUR[node.kind]}"/>']
    for i, text in enumerate([_title(node)] + node.lines):
        weight = ' font-weight="bold"' if i == 0 else ""
        out.append(f'<text x="{x + w / 2:.1f}" y="{y + PAD_Y + (i + 0.78) * LINE_HEIGHT:.1f}" '
                   f'text-anchor="middle" fill="currentColor"{weight}>{escape(text)}</text>')
    out.append("</g>")
    return "".join(out)


# -- public entry points -----------------------------------------------------

def graph_svg(output, names=None, title=None):
    """The graph that produced ``output`` (a torch or tinygrad_course tensor) as an SVG string."""
    return render_svg(build_graph(output, names), title)


def describe_graph(output, names=None):
    """The same graph as plain text, inputs first."""
    return build_graph(output, names).describe()


class GraphDrawing:
    """What :func:`show_graph` displays: SVG, with the text description as the plain fallback."""

    def __init__(self, output, names=None, title=None):
        graph = build_graph(output, names)
        self.svg, self.text = render_svg(graph, title), graph.describe()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": self.svg, "text/plain": self.text}

    def __repr__(self):
        return self.text


def show_graph(output, names=None, title=None):
    """Display the graph of ``output`` in the notebook (see the module docstring)."""
    from IPython.display import display
    display(GraphDrawing(output, names, title))
