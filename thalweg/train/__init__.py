"""Layer 3: the training loop, callbacks, history and checkpoints.

Read ``loop.py`` first: ``gradient_step`` is gradient descent in four lines,
``run_epochs`` the one loop around it, ``fit`` the arrays-in, history-out entry point.
``optimizers.py`` picks an optimizer by name and a learning rate without tuning.
"""

from thalweg.train.callbacks import (
    Callback,
    Convergence,
    EarlyStopping,
    L1Proximal,
    NaNGuard,
    ProgressBar,
)
from thalweg.train.checkpoint import (
    Checkpoint,
    checkpoint_fingerprint,
    load_checkpoint,
    save_checkpoint,
)
from thalweg.train.history import History
from thalweg.train.loop import (
    TrainingInterrupted,
    TrainingState,
    compiled_gradient_step,
    evaluate_loss,
    fit,
    gradient_step,
    predict_array,
    run_epochs,
    with_default_callbacks,
)
from thalweg.train.optimizers import auto_learning_rate, make_optimizer
from thalweg.train.tracking import Tracking

__all__ = [
    "Callback",
    "Checkpoint",
    "Convergence",
    "EarlyStopping",
    "History",
    "L1Proximal",
    "NaNGuard",
    "ProgressBar",
    "Tracking",
    "TrainingInterrupted",
    "TrainingState",
    "auto_learning_rate",
    "checkpoint_fingerprint",
    "compiled_gradient_step",
    "evaluate_loss",
    "fit",
    "gradient_step",
    "load_checkpoint",
    "make_optimizer",
    "predict_array",
    "run_epochs",
    "save_checkpoint",
    "with_default_callbacks",
]
