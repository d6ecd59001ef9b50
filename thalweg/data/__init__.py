"""NumPy-only data tools (layer 2; never imports the engine): splitting, preprocessing,
streaming and input pipelines; the columns of a table (``columns.py``) and calendar
features of its dates (``calendar.py``); held-out rows of a stream (``holdout.py``); the
summary an estimator learns its preprocessing from (``summary.py``).

>>> from thalweg.data import Standardizer, train_val_test_split, stream, Pipeline
"""

from thalweg.data.calendar import CalendarFeatures
from thalweg.data.features import PLAYGROUND_FEATURES, PlaygroundFeatures
from thalweg.data.holdout import Reservoir, RowSplit
from thalweg.data.pipeline import InputProfile, Pipeline, profile_input
from thalweg.data.preprocessing import (
    FeatureCrosses,
    OneHotEncoder,
    Standardizer,
    preprocessor_from_config,
)
from thalweg.data.split import train_val_test_split
from thalweg.data.streaming import Stream, stream
from thalweg.data.summary import DataSummary, summarize_arrays, summarize_stream

__all__ = [
    "PLAYGROUND_FEATURES",
    "CalendarFeatures",
    "DataSummary",
    "FeatureCrosses",
    "InputProfile",
    "OneHotEncoder",
    "Pipeline",
    "PlaygroundFeatures",
    "Reservoir",
    "RowSplit",
    "Standardizer",
    "Stream",
    "preprocessor_from_config",
    "profile_input",
    "stream",
    "summarize_arrays",
    "summarize_stream",
    "train_val_test_split",
]
