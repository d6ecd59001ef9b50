"""NumPy-only data tools: splitting and preprocessing (layer 2; never imports the engine).

>>> from thalweg.data import Standardizer, train_val_test_split
"""

from thalweg.data.preprocessing import (
    FeatureCrosses,
    OneHotEncoder,
    Standardizer,
    preprocessor_from_config,
)
from thalweg.data.split import train_val_test_split

__all__ = [
    "FeatureCrosses",
    "OneHotEncoder",
    "Standardizer",
    "preprocessor_from_config",
    "train_val_test_split",
]
