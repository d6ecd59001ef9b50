"""``to_dot``: the graph behind a tensor as Graphviz DOT text.

Boxes are tensors you made (leaves) with their shape and, once ``backward`` has run,
their gradient; ellipses are the ops that the forward pass recorded. Arrows follow the
forward direction; backward walks them the other way. Paste the text into any Graphviz
viewer, or run ``dot -Tsvg graph.dot > graph.svg``.
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd.function import Function
from thalweg.autograd.tensor import Tensor


def _short(array: np.ndarray | None) -> str:
    if array is None:
        return ""
    if array.size <= 6:
        return np.array2string(np.asarray(array), precision=4, separator=", ").replace("\n", "")
    return f"{array.dtype}{list(array.shape)} |mean| {float(np.abs(array).mean()):.4g}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(tensor: Tensor, show_values: bool = True) -> str:
    """Graphviz DOT source of the graph that produced ``tensor``.

    Parameters
    ----------
    tensor : Tensor
        Usually the loss.
    show_values : bool
        Print small values and gradients inside the boxes.

    Examples
    --------
    >>> import thalweg
    >>> w = thalweg.tensor([2.0], requires_grad=True, name="w")
    >>> loss = (w * w).sum()
    >>> loss.backward()
    >>> print(thalweg.to_dot(loss).splitlines()[0])
    digraph thalweg {
    """
    lines = ["digraph thalweg {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    ids: dict[int, str] = {}

    def node_id(obj) -> str:
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids)}"
        return ids[id(obj)]

    def leaf_label(t: Tensor) -> str:
        parts = [t.name or "tensor", f"shape {tuple(t.shape)}"]
        if show_values:
            parts.append(f"value {_short(t.data)}")
            if t.grad is not None:
                parts.append(f"grad {_short(t.grad)}")
        return "\\n".join(_escape(p) for p in parts)

    def op_label(node: Function) -> str:
        parts = [node.op_name(), f"out {tuple(node.out_shape)}"]
        retained = node.retained
        if show_values and retained is not None and retained.grad is not None:
            parts.append(f"grad {_short(retained.grad)}")
        return "\\n".join(_escape(p) for p in parts)

    if tensor.grad_fn is None:
        lines.append(f'  {node_id(tensor)} [shape=box, label="{leaf_label(tensor)}"];')
        lines.append("}")
        return "\n".join(lines)

    root = tensor.grad_fn
    out_id = node_id(tensor)
    label = [tensor.name or "output", f"shape {tuple(tensor.shape)}"]
    if show_values:
        label.append(f"value {_short(tensor.data)}")
    output_label = "\\n".join(_escape(p) for p in label)
    lines.append(f'  {out_id} [shape=box, style=bold, label="{output_label}"];')
    lines.append(f"  {node_id(root)} -> {out_id};")

    seen = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        lines.append(f'  {node_id(node)} [shape=ellipse, label="{op_label(node)}"];')
        for parent in node.parents:
            if parent is None:
                continue
            if isinstance(parent, Tensor):
                if id(parent) not in seen:
                    seen.add(id(parent))
                    lines.append(f'  {node_id(parent)} [shape=box, label="{leaf_label(parent)}"];')
            else:
                stack.append(parent)
            lines.append(f"  {node_id(parent)} -> {node_id(node)};")
    lines.append("}")
    return "\n".join(lines)
