"""The web playground (layer 5): TensorFlow Playground's lessons, on thalweg's engine.

``thalweg playground`` starts a local web server and opens a page where a learner picks
a 2-D dataset, chooses features and hidden layers, presses play and watches the
decision surface bend. Every number and every pixel is computed here, in Python, by
thalweg's engine; the browser only draws. See ``docs/playground.md``.

==================  ================================================================
module              what it does
==================  ================================================================
``config``          the run's settings: the Playground's defaults, checked, normalized
``uploads``         a learner's CSV: parsed, columns chosen, caps (10 MB, 100,000 rows)
``data``            the points of a run: generated or uploaded, shuffled, split
``run``             the network and its training on thalweg's public API; heat maps
``diagnosis``       the "what is happening" line (diverging, overfitting, dead ReLUs)
``frames``          the binary frames streamed to the page
``export``          a ``.thalweg`` model file and a Python script that retrains the run
``session``         a run with its stream's controls (play, pause, step, acks)
``worker``          the one thread that does every session's engine work, round-robin
``store``           sessions and uploads, capped; idle sessions reclaimed
``app``             the Starlette routes, the WebSocket, the security headers
``server``          binding the port and running uvicorn
==================  ================================================================

The server needs the ``playground`` extra (``pip install 'thalweg[playground]'``:
Starlette, uvicorn, websockets, python-multipart); importing this package does not.

>>> from thalweg.playground.config import normalize_config
>>> from thalweg.playground.run import PlaygroundRun
>>> run = PlaygroundRun(normalize_config({"dataset": "xor", "features": ["x1x2"], "hidden": [],
...                                       "seed": 0}))
>>> run.train(50)
>>> run.summary()["train_accuracy"] > 0.95
True
"""
