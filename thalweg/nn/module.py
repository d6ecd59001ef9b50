"""``Module`` and ``Parameter``: how a model holds its weights.

A module is a plain Python object whose attributes include ``Parameter`` tensors (its
own weights) and other modules (its layers). ``parameters()`` finds them all by walking
the attributes in the order they were assigned, and names them by their dotted path,
e.g. ``"0.weight"`` for the first layer of a ``Sequential``. Those names key
``state_dict()``, so a saved model can be loaded back into a freshly built one.
Buffers (``register_buffer``) are state that is saved but not trained, such as batch
normalisation's running statistics.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from thalweg.autograd import recording, versions
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ShapeError


class Parameter(Tensor):
    """A tensor that is a trainable weight: ``requires_grad=True``, found by ``parameters()``.

    >>> import numpy as np
    >>> w = Parameter(np.zeros((2, 3), dtype=np.float32))
    >>> w.requires_grad, w.shape
    (True, (2, 3))
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models.

    Subclasses assign parameters and sub-modules as attributes in ``__init__`` and define
    ``forward``; calling the module calls ``forward``.

    Examples
    --------
    >>> import thalweg
    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = Parameter([2.0])
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> Affine()(thalweg.tensor([3.0]))
    tensor([6.], dtype=float32, grad_fn=<Mul>)
    """

    def __init__(self):
        self.training = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if recording.active:  # thalweg.compile notes the module's train/eval mode
            recording.note_module(self)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their attribute names, in assignment order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module inside it, with dotted names."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name, e.g. ``("0.weight", Parameter)``."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))  # a shared weight is listed once
                    yield (f"{module_name}.{name}" if module_name else name), value

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Keep ``array`` as state that is saved and loaded but not trained.

        A buffer (BatchNorm's running mean, say) is an attribute like any other, listed
        by ``named_buffers`` and included in ``state_dict``; optimizers never see it.
        """
        self.__dict__.setdefault("_buffer_names", [])
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, array)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Every buffer with its dotted name, e.g. ``("1.running_mean", array)``."""
        for module_name, module in self.named_modules(prefix):
            for name in vars(module).get("_buffer_names", ()):
                array = getattr(module, name)
                if array is not None:
                    yield (f"{module_name}.{name}" if module_name else name), array

    def parameters(self) -> list[Parameter]:
        """All trainable parameters, in a stable order (what optimizers take)."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many numbers training adjusts."""
        return int(sum(p.size for p in self.parameters()))

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm on batch statistics); returns self."""
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off, batch norm on running statistics); returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget accumulated gradients (sets every ``.grad`` to None)."""
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values and every buffer, keyed by dotted name."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update((name, array.copy()) for name, array in self.named_buffers())
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy values into the parameters *in place* (optimizers keep working).

        Raises ShapeError on missing or unexpected names (when ``strict``) and on shape
        mismatches, naming them; then nothing has been changed.
        """
        params = {name: p.data for name, p in self.named_parameters()}
        params.update(self.named_buffers())
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if strict and (missing or unexpected):
            raise ShapeError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}; the "
                "saved model was built differently from this one"
            )
        updates = []
        for name, value in state.items():
            if name not in params:
                continue
            value = np.asarray(value)
            target = params[name]
            if value.shape != target.shape:
                raise ShapeError(
                    f"load_state_dict: {name} has shape {value.shape} in the state but "
                    f"{target.shape} in the model"
                )
            updates.append((target, value))
        for target, value in updates:  # all checked: now write (buffers included)
            target[...] = value
            versions.mark_written(target, "Module.load_state_dict")

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """What goes between the parentheses in ``repr``; layers override it."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)
