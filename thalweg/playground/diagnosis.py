"""The line under the loss chart that says what is happening, when it is clear.

:class:`Diagnosis` watches the losses epoch by epoch (and which hidden layers have only
dead ReLUs) and names one of four situations, most urgent first:

``diverged``
    the loss is no longer a finite number: the weights overflowed;
``diverging``
    the training loss grew to 10× its lowest value (and to at least 0.1);
``dead_relus``
    every ReLU of some hidden layer outputs 0 for every training point, so no gradient
    reaches the layers below it;
``overfitting``
    the test loss rose by 10 % (and 0.01) over its lowest value, at least 50 epochs ago,
    while the training loss kept falling.

>>> watch = Diagnosis()
>>> watch.update(0, 0.5, 0.5) is None
True
>>> watch.update(1, 6.0, 6.0)["kind"]
'diverging'
"""

from __future__ import annotations

import math

__all__ = ["DIVERGENCE_FACTOR", "OVERFITTING_PATIENCE", "Diagnosis"]

DIVERGENCE_FACTOR = 10.0
DIVERGENCE_FLOOR = 0.1
OVERFITTING_PATIENCE = 50  # epochs since the test loss's lowest point
OVERFITTING_RISE = 1.1
OVERFITTING_MIN_RISE = 0.01


class Diagnosis:
    """Keeps the lowest losses seen and names what is happening after each epoch."""

    def __init__(self) -> None:
        self.lowest_train = (math.inf, 0)  # (loss, epoch)
        self.lowest_test = (math.inf, 0)
        self.train_at_lowest_test = math.inf
        self.current: dict | None = None

    def update(
        self, epoch: int, train_loss: float, test_loss: float, dead_layers: tuple[int, ...] = ()
    ) -> dict | None:
        """Record one epoch; return ``{"kind", "message"}`` or None when nothing is clear.

        ``dead_layers`` are the (1-based) hidden layers whose ReLUs are all dead.
        """
        if math.isfinite(train_loss) and train_loss < self.lowest_train[0]:
            self.lowest_train = (train_loss, epoch)
        if math.isfinite(test_loss) and test_loss < self.lowest_test[0]:
            self.lowest_test = (test_loss, epoch)
            self.train_at_lowest_test = train_loss
        self.current = self._name(epoch, train_loss, test_loss, dead_layers)
        return self.current

    def _name(self, epoch, train_loss, test_loss, dead_layers) -> dict | None:
        if not (math.isfinite(train_loss) and math.isfinite(test_loss)):
            return {
                "kind": "diverged",
                "message": "Diverged: the loss is no longer a finite number (the weights "
                "overflowed). Lower the learning rate and press reset.",
            }
        lowest, at = self.lowest_train
        if train_loss >= DIVERGENCE_FACTOR * lowest and train_loss >= DIVERGENCE_FLOOR:
            return {
                "kind": "diverging",
                "message": f"Diverging: the training loss grew {train_loss / lowest:.0f}× from "
                f"its lowest ({lowest:.3f} at epoch {at}). Lower the learning rate.",
            }
        if dead_layers:
            where = (
                "hidden layer " + str(dead_layers[0])
                if len(dead_layers) == 1
                else "hidden layers " + ", ".join(map(str, dead_layers))
            )
            return {
                "kind": "dead_relus",
                "message": f"All ReLUs of {where} are dead: they output 0 for every training "
                "point, so no gradient flows below them. Reset, or lower the learning rate.",
            }
        best_test, best_epoch = self.lowest_test
        if (
            epoch - best_epoch >= OVERFITTING_PATIENCE
            and test_loss > OVERFITTING_RISE * best_test
            and test_loss - best_test > OVERFITTING_MIN_RISE
            and train_loss < self.train_at_lowest_test
        ):
            return {
                "kind": "overfitting",
                "message": f"Overfitting: the test loss rose from {best_test:.3f} (epoch "
                f"{best_epoch}) to {test_loss:.3f} while the training loss kept falling. Try "
                "regularization, fewer neurons, or more training data.",
            }
        return None
