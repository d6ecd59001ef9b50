"""Random generators' states as JSON, checked before a generator ever sees them.

A checkpoint keeps the state of every random generator a run draws from
(``generator.bit_generator.state``: the shuffling order, ``Dropout``, the global
generator). NumPy's state setters trust what they are given: an MT19937 position past
its 624 words, or a Philox buffer position past its 4, makes the generator read memory
beyond its arrays. So a saved state is described exactly, per bit generator (every
field, its range, the length of its lists), by :data:`GENERATOR_STATE`, and
:func:`check_generator_state` checks it against that description and against the
generator it will be restored into before :func:`set_generator_state` calls the setter.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> saved = generator_state(rng)
>>> first = rng.random()
>>> check_generator_state(saved, rng, "run.checkpoint", "epoch_rng_state")
>>> set_generator_state(rng, saved)
>>> rng.random() == first
True
"""

from __future__ import annotations

import numpy as np

from thalweg.errors import FileFormatError
from thalweg.schema import Integer, ListOf, Record, Tagged, Text, check

_WORD32 = Integer(0, 2**32 - 1)
_WORD64 = Integer(0, 2**64 - 1)
_WORD128 = Integer(0, 2**128 - 1)
# a generator keeps half of a 64-bit draw for its next 32-bit one
_HALF_DRAW = {"has_uint32": Integer(0, 1), "uinteger": _WORD32}


def _words(count: int, word: Integer) -> ListOf:
    return ListOf(word, min_items=count, max_items=count)


def _state(inner: dict, **outer) -> Record:
    return Record(
        required={"bit_generator": Text(), "state": Record(required=inner), **outer},
        name="a random generator state",
    )


#: ``bit_generator.state`` of each of NumPy's bit generators, arrays written as lists.
GENERATOR_STATE = Tagged(
    "bit_generator",
    {
        "PCG64": _state({"state": _WORD128, "inc": _WORD128}, **_HALF_DRAW),
        "PCG64DXSM": _state({"state": _WORD128, "inc": _WORD128}, **_HALF_DRAW),
        "MT19937": _state({"key": _words(624, _WORD32), "pos": Integer(0, 624)}),
        "Philox": _state(
            {"counter": _words(4, _WORD64), "key": _words(2, _WORD64)},
            buffer=_words(4, _WORD64),
            buffer_pos=Integer(0, 4),
            **_HALF_DRAW,
        ),
        "SFC64": _state({"state": _words(4, _WORD64)}, **_HALF_DRAW),
    },
)

# The arrays inside a state (lists in the file), by bit generator: where, and their dtype.
_ARRAYS = {
    "MT19937": {("state", "key"): np.uint32},
    "Philox": {
        ("state", "counter"): np.uint64,
        ("state", "key"): np.uint64,
        ("buffer",): np.uint64,
    },
    "SFC64": {("state", "state"): np.uint64},
}


def module_generators(model) -> dict[str, np.random.Generator]:
    """Each random generator a module of ``model`` holds as an attribute, by its dotted
    path and attribute (``"2.rng"`` for ``Dropout(rng=...)`` third in a ``Sequential``).

    >>> from thalweg import nn
    >>> sorted(module_generators(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5, rng=0))))
    ['1.rng']
    """
    generators = {}
    if hasattr(model, "named_modules"):
        for module_name, module in model.named_modules():
            for attribute, value in vars(module).items():
                if isinstance(value, np.random.Generator):
                    generators[f"{module_name}.{attribute}" if module_name else attribute] = value
    return generators


def generator_state(generator: np.random.Generator) -> dict:
    """``generator``'s state as JSON data (its arrays as lists of integers).

    Raises ValueError for a bit generator that is not one of NumPy's own.
    """
    return state_as_json(generator.bit_generator.state)


def state_as_json(state: dict) -> dict:
    """A ``bit_generator.state`` dict as JSON data (arrays as lists)."""
    if state.get("bit_generator") not in GENERATOR_STATE.variants:
        raise ValueError(
            f"a random generator built on {state.get('bit_generator')!r} cannot be saved; "
            f"use one of NumPy's ({', '.join(GENERATOR_STATE.variants)}), e.g. "
            "numpy.random.default_rng(seed)"
        )
    return _plain(state)


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return int(value) if isinstance(value, np.integer) else value


def check_generator_state(saved, generator: np.random.Generator, source: str, where: str) -> None:
    """Refuse, with one line naming ``source`` and ``where``, a saved state that is not
    exactly a state of ``generator``'s kind of bit generator.

    Beyond :data:`GENERATOR_STATE`: a PCG increment is odd (the algorithm needs it),
    and an MT19937 key is not all zeros (that state draws only zeros).
    """
    check(saved, GENERATOR_STATE, source, where)
    kind = type(generator.bit_generator).__name__
    name = saved["bit_generator"]
    if name != kind:
        raise FileFormatError(
            f"{source}: {where} is the state of a {name} generator, but this run's is a "
            f"{kind}; build it the same way (e.g. numpy.random.default_rng) to resume"
        )
    inner = saved["state"]
    if name.startswith("PCG64") and inner["inc"] % 2 == 0:
        raise FileFormatError(f"{source} is damaged: {where}.state.inc should be odd")
    if name == "MT19937" and not any(inner["key"]):
        raise FileFormatError(f"{source} is damaged: {where}.state.key is all zeros")


def set_generator_state(generator: np.random.Generator, saved: dict) -> None:
    """Give ``generator`` a state that passed :func:`check_generator_state`."""
    state = {key: dict(value) if isinstance(value, dict) else value for key, value in saved.items()}
    for path, dtype in _ARRAYS.get(saved["bit_generator"], {}).items():
        holder = state
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = np.asarray(holder[path[-1]], dtype=dtype)
    generator.bit_generator.state = state
