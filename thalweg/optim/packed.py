"""``packed=True``: one flat pass over all the weights of a small model.

When all the weights together hold a few thousand numbers, an optimizer step costs as
many microseconds as it makes NumPy calls, whatever the arithmetic: Adam's formula is a
dozen calls, times six arrays for a three-layer network. With ``packed=True`` the
optimizer moves the weights into one flat buffer, each parameter's ``.data`` becoming a
view of its slice, and runs the formula once over the whole buffer: a dozen calls in all.

It is only a faster way to compute the same numbers (the formulas are elementwise, so
each weight sees exactly the arithmetic it would alone). The per-parameter state stays
the one truth: each parameter's state arrays are views of their slices of flat state
arrays, so ``optimizer.state[param]`` always shows the current numbers. And:

* a step in which some parameter has no gradient runs the per-parameter formula on the
  parameters that have one, through those views: a flat pass cannot skip a slice, and
  a parameter without a gradient must not move (PyTorch's rule);
* before each flat pass the buffer checks that every parameter and every state entry
  still holds the view it was given (a copy, ``load_state_dict`` or a replaced ``.data``
  breaks that); if not, it packs again from the per-parameter values. Parameters whose
  states differ, such as Adam's step counts after a step in which one of them had no
  gradient, keep to the per-parameter path;
* a copy or a pickle of the optimizer leaves the buffers behind: the copy packs its own
  parameters again at its first step.

The visible effect: each ``param.data`` is rebound to a view when the optimizer is built
(and again after a copy, at its first step). An array taken from ``.data`` before then
is no longer the weights; take it after.
"""

from __future__ import annotations

from operator import attrgetter, is_, itemgetter

import numpy as np

from thalweg.autograd import versions
from thalweg.errors import DTypeError, ShapeError
from thalweg.optim.scratch import WORK_BUFFER

_data = attrgetter("data")


class PackedWeights:
    """The weights (and optimizer state) of ``params`` as slices of flat buffers."""

    def __init__(self, params: list):
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1:
            raise DTypeError(
                f"packed=True needs parameters of one dtype, got {sorted(map(str, dtypes))}; "
                "convert them (e.g. to float32) or pass packed=False"
            )
        self.params = params
        self.shapes = [p.shape for p in params]
        ends = np.cumsum([p.size for p in params])
        self.slices = [
            slice(int(end - p.size), int(end)) for p, end in zip(params, ends, strict=True)
        ]
        self._forget()
        self._pack_weights()

    def _forget(self) -> None:
        """Drop the buffers: the next step packs again from the parameters' own values."""
        self.weights = None  # flat weights; each param.data is a view of its slice
        self.write_record = None  # versions.WriteRecord of the weights: stamped each step
        self.views: list = []
        self.grads = None
        self.state: dict = {}  # the flat state the formula runs on
        # What each parameter's state dict was given, to check it still holds it: the
        # views as (dict, key, view) triples, the names of the numbers (step counts:
        # the same value in every dict), and how many entries the dicts hold in all.
        self.given_views: list = []
        self.scalar_keys: list = []
        self.entry_count = 0
        # thalweg.compile: global_step after the last flat pass it checked (its replays
        # skip update()'s checks only while nothing else has stepped; compile/optimizers.py)
        self.checked_step = None

    # A copy must not keep views into buffers it does not share: it repacks instead.
    def __getstate__(self) -> dict:
        return {"params": self.params, "shapes": self.shapes, "slices": self.slices}

    def __setstate__(self, saved: dict) -> None:
        self.__dict__.update(saved)
        self._forget()

    def update(self, optimizer, updates: list, lr: float, in_order: bool = False) -> bool:
        """One flat pass of ``optimizer.update`` for ``updates`` = ``[(param, grad), ...]``
        (``in_order``: known to follow ``params``, one pair each, when all are there).

        Returns False, having changed nothing, when the step must run per parameter:
        some parameter has no gradient, or the parameters' states differ.
        """
        params = self.params
        if len(updates) != len(params):
            return False  # some parameter has no gradient
        if not in_order and not all(map(is_, map(itemgetter(0), updates), params)):
            return False  # (apply_gradients' pairs may come in another order)
        per_param = list(map(optimizer.state.__getitem__, params))
        if not self._holds(per_param) and not self._pack_state(per_param):
            return False
        if self.weights is None or not all(map(is_, map(_data, params), self.views)):
            self._pack_weights()  # a copy, or someone replaced a .data: take its values
        np.concatenate([grad.ravel() for _, grad in updates], out=self.grads)
        keys_before = len(self.state)
        optimizer.update(self.weights, self.grads, self.state, lr)
        if len(self.state) != keys_before:  # the first step made the state arrays
            self._share(per_param)
        else:
            self._copy_numbers(per_param)
        self._stamp(optimizer)
        return True

    def update_packed(self, optimizer, lr: float) -> None:
        """The flat pass alone, for gradients already written into ``self.grads``.

        ``thalweg.compile`` replays a step whose backward writes each parameter's
        gradient straight into its slice of ``self.grads``; it has checked once what
        :meth:`update` checks every step (and guards what could change it), so only the
        formula, the step counts and the write stamp remain.
        """
        optimizer.update(self.weights, self.grads, self.state, lr)
        if self.scalar_keys:
            self._copy_numbers(list(map(optimizer.state.__getitem__, self.params)))
        self._stamp(optimizer)

    def grad_views(self) -> list:
        """Each parameter's slice of ``self.grads``, shaped like it (None before packing)."""
        if self.grads is None:
            return None
        return [
            self.grads[part].reshape(shape)
            for part, shape in zip(self.slices, self.shapes, strict=True)
        ]

    def _copy_numbers(self, per_param: list) -> None:
        for key in self.scalar_keys:  # step counts are numbers: copied each step
            value = self.state[key]
            for entries in per_param:
                entries[key] = value

    def _stamp(self, optimizer) -> None:
        if self.write_record is None:
            self.write_record = versions.record_for(self.weights, optimizer._writer)
        self.write_record.touch()  # graphs that saved the old weights now refuse backward

    def _holds(self, per_param: list) -> bool:
        """Whether every parameter's state holds exactly what the flat state gave it.

        Each entry must be the very object it was given (a view; the flat state's step
        count), and no dict may hold more: a missing entry fails the identity test, an
        extra one the count.
        """
        if sum(map(len, per_param)) != self.entry_count:
            return False
        for entries, key, view in self.given_views:
            if entries.get(key) is not view:
                return False
        for key in self.scalar_keys:
            value = self.state[key]
            for entries in per_param:
                if entries.get(key) is not value:
                    return False
        return True

    def _pack_state(self, per_param: list) -> bool:
        """Build the flat state from the per-parameter states, if they agree.

        They agree when every parameter has the same entries, its arrays shaped like it
        and its numbers equal to the others' (Adam's step counts, say). Otherwise
        return False and change nothing.
        """
        keys = [key for key in per_param[0] if key != WORK_BUFFER]
        for entries in per_param:
            if len(entries) - (WORK_BUFFER in entries) != len(keys):
                return False
            if any(key not in entries for key in keys):
                return False
        flat = {}
        for key in keys:
            values = [entries[key] for entries in per_param]
            if isinstance(values[0], np.ndarray):
                if any(
                    not isinstance(v, np.ndarray) or v.shape != shape
                    for v, shape in zip(values, self.shapes, strict=True)
                ):
                    return False
                flat[key] = np.concatenate([v.ravel() for v in values])
            elif any(isinstance(v, np.ndarray) or v != values[0] for v in values):
                return False
            else:
                flat[key] = values[0]
        self.state = flat
        self._share(per_param)
        return True

    def _share(self, per_param: list) -> None:
        """Give each parameter's state views of its slices of the flat state arrays."""
        self.given_views = []
        self.scalar_keys = []
        for key, value in self.state.items():
            if key == WORK_BUFFER:
                continue
            if not isinstance(value, np.ndarray):
                self.scalar_keys.append(key)
                for entries in per_param:
                    entries[key] = value
                continue
            for entries, part, shape in zip(per_param, self.slices, self.shapes, strict=True):
                entries[key] = view = value[part].reshape(shape)
                self.given_views.append((entries, key, view))
        for entries in per_param:
            entries.pop(WORK_BUFFER, None)  # scratch space: the flat pass has its own
        self.entry_count = len(self.given_views) + len(self.scalar_keys) * len(per_param)

    def _pack_weights(self) -> None:
        """Copy the weights into a new buffer and make each ``.data`` a view of its slice."""
        for p, shape in zip(self.params, self.shapes, strict=True):
            if p.data.shape != shape:
                raise ShapeError(
                    f"packed optimizer: a parameter of shape {shape} now holds an array of "
                    f"shape {p.data.shape}; build a new optimizer for the new shapes"
                )
        dtype = self.params[0].data.dtype
        if any(p.data.dtype != dtype for p in self.params):
            raise DTypeError(
                "packed optimizer: the parameters no longer share one dtype; build a new "
                "optimizer after converting them"
            )
        self.weights = np.empty(self.slices[-1].stop, dtype=dtype)
        self.write_record = None
        for p, part in zip(self.params, self.slices, strict=True):
            self.weights[part] = p.data.ravel()
        self.views = [
            self.weights[part].reshape(shape)
            for part, shape in zip(self.slices, self.shapes, strict=True)
        ]
        for p, view in zip(self.params, self.views, strict=True):
            p.data = view
        self.grads = np.empty_like(self.weights)
