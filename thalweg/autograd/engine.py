"""The backward pass: reverse-mode automatic differentiation over the recorded graph.

Forward, every op recorded a node pointing at its inputs' nodes. Backward visits the
nodes from the output back to the leaves in *reverse topological order* (a node only
after every node that uses its output), so that when a node is visited the gradient of
its output is complete: the sum over every path from the output. The node's
``backward`` turns that gradient into gradients for its inputs (one chain-rule step),
which are added into what its parents have received so far.

That order comes from one fact: every node was created after the nodes whose outputs
it consumes (``Function.apply`` stamps each with a sequence number). So the engine keeps
the nodes it has reached in a heap and always takes the *newest* one next: by then every
node that consumed its output, being newer, has already sent its gradient. One loop
discovers and processes the nodes, with no recursion, so a chain of 100,000 ops works.
After its backward each node drops its saved arrays unless ``retain_graph``.

Before a node's backward runs, the engine makes sure the arrays it saved still hold the
values its forward used (see ``versions.py``): an optimizer step between two backward
calls through one retained graph raises instead of giving a wrong gradient.
"""

from __future__ import annotations

import heapq

import numpy as np

from thalweg.autograd import anomaly, recording, versions
from thalweg.autograd.function import FREED, Function
from thalweg.autograd.tensor import Tensor
from thalweg.errors import GraphError, ShapeError


def _initial_grad(output: Tensor, grad) -> np.ndarray:
    if grad is None:
        if output.data.size != 1:
            raise GraphError(
                f"backward: output has shape {output.shape}, not a scalar; pass grad= with "
                "that shape (the gradient of your final scalar with respect to this tensor), "
                "or reduce it first, e.g. loss.sum().backward()"
            )
        ones = np.empty(output.data.shape, output.data.dtype)  # (faster than np.ones_like)
        ones.fill(1)
        return ones
    # A copy: the caller's array must never become some leaf's .grad.
    grad = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=output.dtype)
    if grad.shape != output.shape:
        raise ShapeError(
            f"backward: grad has shape {grad.shape} but the output has shape {output.shape}; "
            "pass a gradient of the same shape as the output"
        )
    return grad


def _run(output: Tensor, grad, retain_graph: bool, targets: dict | None) -> None:
    """Propagate gradients from ``output``.

    With ``targets=None`` leaf gradients are accumulated into ``.grad``. Otherwise
    ``targets`` maps each wanted leaf tensor or node to None, and the gradients reaching
    them are stored there instead; no ``.grad`` is touched.
    """
    if not output.requires_grad:
        raise GraphError(
            "backward: this tensor does not require grad and has no grad_fn; create the "
            "inputs you want gradients for with requires_grad=True"
        )
    grad = _initial_grad(output, grad)
    root = output.grad_fn
    delivered: set[int] = set()  # ids of arrays already adopted as some leaf's .grad
    if root is None:  # a leaf: the gradient of a tensor with respect to itself
        _deliver(output, grad, targets, delivered)
        return

    last_write = versions.last_write()  # nodes newer than every in-place write skip the check
    check_anomalies = anomaly.is_enabled()
    pending = {root: grad}  # node -> gradient of its output accumulated so far
    reached = [(-root.sequence, root)]  # a heap: the newest node comes out first
    while reached:
        node = heapq.heappop(reached)[1]
        grad = pending.pop(node)
        if node.saved is FREED:
            raise GraphError(
                f"backward: the graph through {node.op_name()} was freed by an earlier "
                "backward; call the first backward with retain_graph=True to go through "
                "it twice, or recompute the forward pass"
            )
        if grad is None:
            # Nothing flowed here (e.g. only into a loss's constant weights): there is no
            # gradient to pass on, but the node and those above it still free their arrays.
            input_grads = (None,) * len(node.parents)
        else:
            if node.sequence < last_write:  # something was written since node was made
                versions.check_saved(node)
            if targets is None and node.retained is not None:
                retained = node.retained
                own_grad = grad.astype(retained.dtype)  # a copy in its dtype: never shared
                retained.grad = own_grad if retained.grad is None else retained.grad + own_grad
            if targets is not None and node in targets:
                targets[node] = grad if targets[node] is None else targets[node] + grad
            input_grads = node.backward(grad)
            if type(input_grads) is not tuple:
                raise GraphError(
                    f"{node.op_name()}.backward returned {type(input_grads).__name__}; it "
                    "must return a tuple with one gradient (or None) per input"
                )
            if check_anomalies:
                anomaly.check_backward(node.op_name(), input_grads, _parent_shapes(node))
        if not retain_graph:
            node.saved = FREED  # release the saved arrays (Function.release, inlined)

        for parent, input_grad in zip(node.parents, input_grads, strict=True):
            if parent is None:
                continue
            if isinstance(parent, Tensor):  # a leaf
                if input_grad is not None:
                    _deliver(parent, input_grad, targets, delivered)
            elif parent not in pending:  # reached for the first time
                pending[parent] = input_grad
                heapq.heappush(reached, (-parent.sequence, parent))
            elif input_grad is not None:
                earlier = pending[parent]
                pending[parent] = input_grad if earlier is None else earlier + input_grad


def _deliver(leaf: Tensor, grad: np.ndarray, targets: dict | None, delivered: set) -> None:
    """Add ``grad`` to a leaf's gradient, in the leaf's own dtype.

    Once backward is over, a leaf's ``.grad`` is an array no other tensor holds, so users
    and optimizers may modify it in place. A fresh array from an op's backward is adopted
    as is (no copy on the hot path); a view (reshape, transpose, broadcast) or an array
    already given to another leaf (``a + b`` sends one array to both) is copied first.
    During this backward the adopted array may still be on its way to other nodes, so
    later contributions are added out of place, never into it; a ``.grad`` left by an
    earlier backward is the leaf's alone, and gradients accumulate into it in place.
    """
    if targets is not None:
        if leaf in targets:
            targets[leaf] = grad if targets[leaf] is None else targets[leaf] + grad
        return
    if leaf.grad is not None:
        if id(leaf.grad) in delivered or not leaf.grad.flags.writeable:
            leaf.grad = leaf.grad + grad.astype(leaf.data.dtype, copy=False)
        else:  # a .grad from an earlier backward is the leaf's own: add in place
            leaf.grad += grad
        return
    if grad.dtype != leaf.data.dtype:
        grad = grad.astype(leaf.data.dtype)
    elif grad.base is not None or not grad.flags.writeable or id(grad) in delivered:
        grad = grad.copy()
    delivered.add(id(grad))
    leaf.grad = grad


def _parent_shapes(node: Function) -> list:
    shapes = []
    for parent in node.parents:
        if isinstance(parent, Tensor):
            shapes.append(parent.shape)
        elif isinstance(parent, Function):
            shapes.append(parent.out_shape)
        else:
            shapes.append("constant")
    return shapes


def backward(output: Tensor, grad=None, retain_graph: bool = False) -> None:
    """Accumulate the gradient of ``output`` into ``.grad`` of every leaf requiring grad."""
    if recording.active and (recorder := recording.current()) is not None:
        return recorder.backward(output, grad, retain_graph)  # thalweg.compile is tracing
    _run(output, grad, retain_graph, None)


def grad(
    output: Tensor,
    inputs,
    grad_output=None,
    retain_graph: bool = False,
    materialize_grads: bool = True,
) -> list:
    """Gradients of ``output`` with respect to ``inputs``, as arrays; no ``.grad`` changes.

    Parameters
    ----------
    output : Tensor
        Usually a scalar loss; otherwise pass ``grad_output`` of its shape.
    inputs : Tensor or sequence of Tensor
        Leaf or intermediate tensors that require grad.
    grad_output : array_like, optional
        The gradient to start from (default: 1 for a scalar output).
    retain_graph : bool
        Keep the graph's saved arrays for another backward.
    materialize_grads : bool
        For an input the output does not depend on: zeros (True, the default) or None
        (False; "no gradient", which optimizers skip, as PyTorch's ``.grad`` is None).

    Returns
    -------
    list of ndarray (or None, see ``materialize_grads``), one per input, each of that
    input's shape and dtype.

    Examples
    --------
    >>> import thalweg
    >>> x = thalweg.tensor([3.0], requires_grad=True)
    >>> (dx,) = thalweg.grad((x * x).sum(), [x])
    >>> dx, x.grad
    (array([6.], dtype=float32), None)
    """
    if recording.active and (recorder := recording.current()) is not None:
        return recorder.grad(output, inputs, grad_output, retain_graph, materialize_grads)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    targets: dict = {}
    for tensor in inputs:
        if not tensor.requires_grad:
            raise GraphError(
                "grad: one of the inputs does not require grad; create it with requires_grad=True"
            )
        targets[tensor.grad_fn or tensor] = None
    _run(output, grad_output, retain_graph, targets)
    results = []
    for tensor in inputs:
        value = targets[tensor.grad_fn or tensor]
        if value is None:
            value = np.zeros_like(tensor.data) if materialize_grads else None
        else:  # a copy: one array may reach several inputs, or be a read-only view
            value = np.array(value, dtype=tensor.dtype)
        results.append(value)
    return results
