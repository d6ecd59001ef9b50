"""``Optimizer``: the base every algorithm shares, with both training habits.

TensorFlow's habit separates computing gradients from applying them::

    pairs = opt.compute_gradients(loss)    # [(grad, param), ...]; touches no weight
    opt.apply_gradients(pairs)             # updates the weights in place; global_step += 1
    opt.minimize(loss)                     # the two together

PyTorch's habit keeps gradients on the parameters::

    opt.zero_grad(); loss.backward(); opt.step()

Both end in the same place: :meth:`Optimizer.update`, where each algorithm writes its
paper's formula for one parameter, updating the weight array *in place* (the arrays
the model holds are the arrays that change; no new arrays per step).

**State is kept per parameter**, as in PyTorch: ``optimizer.state[param]`` is a dict
(momentum buffer, moment estimates, step count) for that parameter alone, and it is the
only record of it. So a step in which a parameter has no gradient leaves its weight and
its state alone; a copy of a model with its optimizer (``copy.deepcopy``, ``pickle``)
carries the state along, keyed by the copied parameters; ``state_dict`` saves it by
position in ``params``.

Small models may ask for one shortcut, ``packed=True``: the weights are packed into
one flat buffer and the formula runs once over all of them (see ``packed.py``). It
computes the same numbers, faster when a step costs more in NumPy calls than in
arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from thalweg.autograd import engine, recording, versions
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ShapeError
from thalweg.optim.packed import PackedWeights
from thalweg.optim.schedules import as_schedule, schedule_from_config, schedule_to_config
from thalweg.optim.scratch import WORK_BUFFER, work_buffer

__all__ = ["WORK_BUFFER", "Optimizer", "work_buffer"]


class Optimizer:
    """Base class: holds the parameters, per-parameter state and the step counter.

    Parameters
    ----------
    params : iterable of Tensor
        The weights to train (``model.parameters()``), each with ``requires_grad=True``.
    lr : float or schedule
        Learning rate: a number, or a function of ``global_step`` such as
        ``thalweg.optim.exponential_decay(0.1, 0.5, 1000)``.
    packed : bool
        Update all the weights in one flat pass (faster for small models, same numbers;
        each ``param.data`` becomes a view of one buffer: see ``packed.py``).
    """

    # Every this many steps, moving averages (momentum, Adam's moments, RMSProp's mean
    # square) have their subnormal entries set to zero (thalweg.numerics.flush_subnormals):
    # where a gradient stays zero they decay through the subnormal range, where x86
    # arithmetic is several times slower. Values that small move no weight.
    flush_subnormals_every = 16

    #: hyperparameter names saved by ``state_dict`` (besides ``lr``); subclasses extend it
    hyperparameters: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], lr, packed: bool = False):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for index, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise ValueError(
                    f"{type(self).__name__}: parameter {index} is not a leaf tensor with "
                    "requires_grad=True (pass model.parameters())"
                )
        # Keyed by the parameter itself (Tensor hashes by identity), as in PyTorch: a
        # deep copy of the optimizer maps each key to the copied parameter.
        self.state: dict[Tensor, dict] = {p: {} for p in self.params}
        if len(self.state) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice")
        self.lr = lr  # also sets the schedule (see the property)
        self.global_step = 0
        self.packed = bool(packed)
        self._packed = PackedWeights(self.params) if packed else None
        self._writer = f"{type(self).__name__}.step()"  # names it in a version error

    # ------------------------------------------------------------------ the formula
    def update(self, weight: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        """Apply one update to ``weight`` in place. Subclasses write their formula here.

        ``state`` is this parameter's dict: create arrays shaped like ``weight`` in it on
        the first call, then change them in place; numbers (a step count) may be
        replaced. Keep the formula elementwise: with ``packed=True`` it runs once on all
        the weights flattened into one array, with ``state`` holding the flat arrays.
        """
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    @classmethod
    def state_entries(cls, settings: dict) -> dict[str, str] | None:
        """What ``update`` keeps for a parameter once it has had a gradient, with the
        hyperparameters ``settings`` (``{name: value}``): ``{entry: kind}``, where kind is
        ``"array"`` (shaped like the parameter), ``"square"`` (the same, never negative:
        a running sum or mean of squares) or ``"count"`` (a whole number of updates, at
        least 1 and at most ``global_step``). A parameter's saved state holds exactly
        these entries, or none (it never had a gradient); files are checked against it
        before their state is loaded (``thalweg.serialization``).

        None (this base class) means "not described": only the shapes are checked.

        >>> from thalweg.optim import Adam
        >>> Adam.state_entries({})
        {'step': 'count', 'm': 'array', 'v': 'square'}
        """
        return None

    # ------------------------------------------------------------------ the rate
    @property
    def lr(self):
        """The learning rate as given: a number or a schedule (``thalweg.optim.schedules``).

        Setting it changes the rate from the next update on; the step count, and with it
        a schedule's position, carries on (the playground's learning-rate menu does this).

        >>> import thalweg
        >>> from thalweg.optim import SGD
        >>> opt = SGD([thalweg.tensor([1.0], requires_grad=True)], lr=0.1)
        >>> opt.lr = 0.5
        >>> opt.learning_rate
        0.5
        """
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._schedule = as_schedule(value)  # checks the value
        self._lr = value

    # ------------------------------------------------------------------ TensorFlow habit
    @property
    def learning_rate(self) -> float:
        """The learning rate the next update will use (schedules follow global_step)."""
        return self._schedule(self.global_step)

    def learning_rate_at(self, step: int) -> float:
        """The learning rate of update number ``step`` (counting from 0)."""
        return self._schedule(step)

    def effective_learning_rate(self, param: Tensor, lr: float):
        """How far the last update moved ``param`` per unit of gradient: ``lr`` for SGD,
        an array (one per weight) for adaptive methods, ``lr / (√v̂ + ε)`` for Adam.

        Proximal steps (the L1 soft-threshold) scale by it, so they act in the same
        geometry as the update they follow.
        """
        return lr

    def compute_gradients(self, loss: Tensor, params=None) -> list[tuple[np.ndarray, Tensor]]:
        """Gradients of ``loss`` as ``[(grad, param), ...]``; no weight or ``.grad`` changes.

        ``params`` defaults to the optimizer's parameters. A parameter the loss does not
        depend on gets None (TensorFlow's habit too), so ``apply_gradients`` leaves its
        weight and state alone, where a zero gradient would still move it by momentum.
        """
        params = self.params if params is None else list(params)
        grads = engine.grad(loss, params, materialize_grads=False)
        return list(zip(grads, params, strict=True))

    def apply_gradients(self, grads_and_params) -> None:
        """Update each param from its grad (None grads are skipped); ``global_step += 1``."""
        lr = self._schedule(self.global_step)
        updates = []  # (param, grad)
        for grad, param in grads_and_params:
            if grad is None:
                continue
            if param not in self.state:
                raise ValueError(
                    "apply_gradients: a parameter that this optimizer was not built with; "
                    "pass it in the optimizer's params"
                )
            if grad.shape != param.shape:
                raise ShapeError(
                    f"apply_gradients: gradient of shape {grad.shape} for a parameter of shape "
                    f"{param.shape}"
                )
            updates.append((param, grad))
        self._apply(updates, lr)

    def _apply(self, updates: list, lr: float, in_order: bool = False) -> None:
        """Run the formula for checked ``(param, grad)`` pairs; ``global_step += 1``.

        Parameters without a gradient are not in ``updates``: their weights and state
        stay as they are (PyTorch's rule). Each write is recorded, so a graph that saved
        the old weights refuses a later backward (see ``autograd/versions.py``).
        ``in_order``: the pairs follow ``self.params`` (as ``step`` lists them).
        """
        if recording.active and (recorder := recording.current()) is not None:
            return recorder.optimizer_step(self, updates, lr, in_order)  # thalweg.compile
        if self._packed is None or not self._packed.update(self, updates, lr, in_order):
            state = self.state
            for param, grad in updates:
                self.update(param.data, grad, state[param], lr)
                versions.mark_written(param.data, self._writer)
        self.global_step += 1

    def minimize(self, loss: Tensor) -> list[tuple[np.ndarray, Tensor]]:
        """``apply_gradients(compute_gradients(loss))``; returns the pairs it applied."""
        pairs = self.compute_gradients(loss)
        self.apply_gradients(pairs)
        return pairs

    # ------------------------------------------------------------------ PyTorch habit
    def zero_grad(self) -> None:
        """Forget the gradients stored on the parameters (``.grad = None``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter from its ``.grad`` (skipping those without one).

        The engine made each ``.grad`` with its parameter's shape, so none of
        ``apply_gradients``' checks are needed here.
        """
        lr = self._schedule(self.global_step)
        self._apply([(p, p.grad) for p in self.params if p.grad is not None], lr, in_order=True)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything needed to continue training exactly: step, hyperparameters, state.

        Array state (momenta, moment estimates) is copied; keys of ``"state"`` are the
        parameters' positions in ``params``.
        """
        return {
            "class": type(self).__name__,
            "global_step": self.global_step,
            "lr": schedule_to_config(self.lr),
            "hyperparameters": {name: getattr(self, name) for name in self.hyperparameters},
            "state": {
                position: {
                    k: (v.copy() if isinstance(v, np.ndarray) else v)
                    for k, v in self.state[p].items()
                    if k != WORK_BUFFER
                }
                for position, p in enumerate(self.params)
                if self.state[p]
            },
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned (arrays are copied in).

        Parameters missing from ``state_dict["state"]`` start with no state, exactly as
        if they had never had a gradient.
        """
        saved_class = state_dict.get("class", type(self).__name__)
        if saved_class != type(self).__name__:
            raise ValueError(
                f"load_state_dict: state is from {saved_class}, this is {type(self).__name__}"
            )
        state = {p: {} for p in self.params}
        for key, entries in state_dict.get("state", {}).items():
            position = int(key)
            if not 0 <= position < len(self.params):
                raise ValueError(
                    f"load_state_dict: state for parameter {position} but the optimizer has "
                    f"{len(self.params)} parameters"
                )
            param = self.params[position]
            for name, value in entries.items():
                if isinstance(value, np.ndarray) and value.shape != param.shape:
                    raise ShapeError(
                        f"load_state_dict: {name} of parameter {position} has shape "
                        f"{value.shape} but the parameter has {param.shape}; the state is "
                        "from an optimizer of another model"
                    )
            state[param] = {
                k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in entries.items()
            }
        lr = schedule_from_config(state_dict["lr"])  # everything checked: now change
        self.global_step = int(state_dict["global_step"])
        self.lr = lr
        for name, value in state_dict.get("hyperparameters", {}).items():
            setattr(self, name, value)
        # (a packed optimizer notices the new dicts at its next step and packs them)
        self.state = state

    def __repr__(self) -> str:
        settings = ", ".join(
            [f"lr={self.lr!r}"]
            + [f"{n}={getattr(self, n)!r}" for n in self.hyperparameters]
            + (["packed=True"] if self.packed else [])
        )
        return f"{type(self).__name__}({settings}, params={len(self.params)})"
