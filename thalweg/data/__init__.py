"""NumPy-only data tools: splitting, preprocessing, streaming and input pipelines (layer 2;
never imports the engine).

>>> from thalweg.data import Standardizer, train_val_test_split, stream, Pipeline
"""

from thalweg.data.features import PLAYGROUND_FEATURES, PlaygroundFeatures
from thalweg.data.pipeline import InputProfile, Pipeline, profile_input
from thalweg.data.preprocessing import (
    FeatureCrosses,
    OneHotEncoder,
    Standardizer,
    preprocessor_from_config,
)
from thalweg.data.split import train_val_test_split
from thalweg.data.streaming import Stream, stream

__all__ = [
    "PLAYGROUND_FEATURES",
    "FeatureCrosses",
    "InputProfile",
    "OneHotEncoder",
    "Pipeline",
    "PlaygroundFeatures",
    "Standardizer",
    "Stream",
    "preprocessor_from_config",
    "profile_input",
    "stream",
    "train_val_test_split",
]
