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

Small models take one shortcut. When all the weights together hold few numbers, a step
costs as many microseconds as it makes NumPy calls, whatever the arithmetic: Adam's
formula is a dozen calls, times six arrays for a tiny network. So the weights of a small
model of ``Parameter`` s are packed into one flat buffer (each parameter's ``.data``
becomes a view of its slice), and ``update`` runs once over the whole buffer.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from thalweg.autograd import engine
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ShapeError
from thalweg.nn.module import Parameter
from thalweg.optim.schedules import as_schedule, schedule_from_config, schedule_to_config


class Optimizer:
    """Base class: holds the parameters, per-parameter state and the step counter.

    Parameters
    ----------
    params : iterable of Tensor
        The weights to train (``model.parameters()``), each with ``requires_grad=True``.
    lr : float or schedule
        Learning rate: a number, or a function of ``global_step`` such as
        ``thalweg.optim.exponential_decay(0.1, 0.5, 1000)``.
    """

    #: hyperparameter names saved by ``state_dict`` (besides ``lr``); subclasses extend it
    hyperparameters: tuple[str, ...] = ()

    #: models with at most this many weights in all are updated in one flat pass
    FLAT_UPDATE_LIMIT = 65_536

    def __init__(self, params: Iterable[Tensor], lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for index, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise ValueError(
                    f"{type(self).__name__}: parameter {index} is not a leaf tensor with "
                    "requires_grad=True (pass model.parameters())"
                )
        self._position = {id(p): i for i, p in enumerate(self.params)}
        if len(self._position) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice")
        self.lr = lr
        self._schedule = as_schedule(lr)
        self.global_step = 0
        self.state: list[dict] = [{} for _ in self.params]
        self._flat = FlatWeights.for_params(self.params, self.FLAT_UPDATE_LIMIT)

    # ------------------------------------------------------------------ the formula
    def update(self, weight: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        """Apply one update to ``weight`` in place. Subclasses write their formula here."""
        raise NotImplementedError(f"{type(self).__name__} must define update()")

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

        ``params`` defaults to the optimizer's parameters.
        """
        params = self.params if params is None else list(params)
        grads = engine.grad(loss, params)
        return list(zip(grads, params, strict=True))

    def apply_gradients(self, grads_and_params) -> None:
        """Update each param from its grad (None grads are skipped); ``global_step += 1``."""
        lr = self._schedule(self.global_step)
        updates = []  # (position, grad)
        for grad, param in grads_and_params:
            if grad is None:
                continue
            position = self._position.get(id(param))
            if position is None:
                raise ValueError(
                    "apply_gradients: a parameter that this optimizer was not built with; "
                    "pass it in the optimizer's params"
                )
            if grad.shape != param.shape:
                raise ShapeError(
                    f"apply_gradients: gradient of shape {grad.shape} for a parameter of shape "
                    f"{param.shape}"
                )
            updates.append((position, grad))
        self._apply(updates, lr)

    def _apply(self, updates: list, lr: float) -> None:
        """Run the formula for checked ``(position, grad)`` pairs; ``global_step += 1``."""
        flat = self._flat
        if flat is not None and len(updates) == len(self.params):
            updates.sort(key=_first)  # (already in order when they come from step())
            flat.update(self, [grad for _, grad in updates], lr)
        else:
            for position, grad in updates:
                self.update(self.params[position].data, grad, self.state[position], lr)
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
        self._apply([(i, p.grad) for i, p in enumerate(self.params) if p.grad is not None], lr)

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
                i: {
                    k: (v.copy() if isinstance(v, np.ndarray) else v)
                    for k, v in s.items()
                    if k != WORK_BUFFER
                }
                for i, s in enumerate(self.state)
                if s
            },
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned (arrays are copied in)."""
        saved_class = state_dict.get("class", type(self).__name__)
        if saved_class != type(self).__name__:
            raise ValueError(
                f"load_state_dict: state is from {saved_class}, this is {type(self).__name__}"
            )
        self.global_step = int(state_dict["global_step"])
        self.lr = schedule_from_config(state_dict["lr"])
        self._schedule = as_schedule(self.lr)
        for name, value in state_dict.get("hyperparameters", {}).items():
            setattr(self, name, value)
        self.state = [{} for _ in self.params]
        if self._flat is not None:
            self._flat.state = None  # rebuilt from the per-parameter state at the next step
        for key, entries in state_dict.get("state", {}).items():
            position = int(key)
            if position >= len(self.params):
                raise ValueError(
                    f"load_state_dict: state for parameter {position} but the optimizer has "
                    f"{len(self.params)} parameters"
                )
            self.state[position] = {
                k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in entries.items()
            }

    def __repr__(self) -> str:
        settings = ", ".join(
            [f"lr={self.lr!r}"] + [f"{n}={getattr(self, n)!r}" for n in self.hyperparameters]
        )
        return f"{type(self).__name__}({settings}, params={len(self.params)})"


def _first(pair):
    return pair[0]


WORK_BUFFER = "work_buffer"  # state key of a scratch array: reused each step, never saved


def work_buffer(state: dict, like: np.ndarray) -> np.ndarray:
    """A scratch array shaped like ``like``, kept in ``state`` so updates allocate nothing."""
    buffer = state.get(WORK_BUFFER)
    if buffer is None or buffer.shape != like.shape:
        buffer = state[WORK_BUFFER] = np.empty_like(like)
    return buffer


class FlatWeights:
    """The weights of a small model packed into one buffer, updated in one pass.

    Each parameter's ``.data`` is a view of its slice of ``weights``; the optimizer's
    state for the whole buffer lives in ``state``, and each parameter's ``state`` entries
    are views of their slices of it (so ``state_dict``, proximal steps and the
    per-parameter path all see the same numbers). If anyone rebinds a parameter's
    ``.data`` to a new array, the next step notices and packs again.
    """

    def __init__(self, params: list):
        self.params = params
        self.shapes = [p.shape for p in params]
        ends = np.cumsum([p.size for p in params])
        self.slices = [
            slice(int(end - p.size), int(end)) for p, end in zip(params, ends, strict=True)
        ]
        self.weights = np.empty(int(ends[-1]), dtype=params[0].dtype)
        self.grads = np.empty_like(self.weights)
        self.views: list = []
        self.state: dict | None = None
        self.scalar_keys: list = []
        self.scalar_keys_known = False
        self.pack()

    @classmethod
    def for_params(cls, params: list, limit: int) -> FlatWeights | None:
        """Pack only model parameters (never a user's shared array: ``from_numpy``), of
        one dtype, few enough for the per-call overhead to matter."""
        if (
            len(params) > 1
            and all(type(p) is Parameter for p in params)
            and len({p.dtype for p in params}) == 1
            and sum(p.size for p in params) <= limit
        ):
            return cls(params)
        return None

    def pack(self) -> None:
        """Copy the weights into the buffer and make each ``.data`` a view of its slice."""
        for p, part in zip(self.params, self.slices, strict=True):
            self.weights[part] = p.data.ravel()
        self.views = [
            self.weights[part].reshape(shape)
            for part, shape in zip(self.slices, self.shapes, strict=True)
        ]
        for p, view in zip(self.params, self.views, strict=True):
            p.data = view

    def update(self, optimizer: Optimizer, grads: list, lr: float) -> None:
        """One update of every weight: gather the gradients, run the formula once."""
        if any(p.data is not view for p, view in zip(self.params, self.views, strict=True)):
            self.pack()  # someone replaced a .data array: take its values, view it again
        np.concatenate([g.ravel() for g in grads], out=self.grads)
        if self.state is None:
            self.state = self._state_from(optimizer.state)
        keys_before = len(self.state)
        optimizer.update(self.weights, self.grads, self.state, lr)
        if len(self.state) != keys_before or not self.scalar_keys_known:
            self._share_state(optimizer.state)
        for key in self.scalar_keys:  # step counters and the like: copied each step
            value = self.state[key]
            for entries in optimizer.state:
                entries[key] = value

    def _share_state(self, per_param: list) -> None:
        """Give each parameter's state views of its slices of the flat state arrays."""
        self.scalar_keys = []
        for key, value in self.state.items():
            if isinstance(value, np.ndarray):
                for position, part in enumerate(self.slices):
                    per_param[position][key] = value[part].reshape(self.shapes[position])
            else:
                self.scalar_keys.append(key)
        self.scalar_keys_known = True

    def _state_from(self, per_param: list) -> dict:
        """Flat state assembled from per-parameter state (after ``load_state_dict``)."""
        if not all(per_param):
            return {}
        state = {}
        for key, value in per_param[0].items():
            if isinstance(value, np.ndarray):
                state[key] = np.concatenate([entries[key].ravel() for entries in per_param])
            else:
                state[key] = value
        for entries in per_param:
            entries.clear()  # the views are recreated from the flat state
        self.scalar_keys_known = False
        return state
