"""NumPy-only data tools: splitting, preprocessing, streaming, input pipelines, images and
their augmentation (layer 2; never imports the engine).

>>> from thalweg.data import Standardizer, train_val_test_split, stream, Pipeline, ImageFolder
"""

from thalweg.data.augment import AUGMENTATIONS, Augmenter
from thalweg.data.features import PLAYGROUND_FEATURES, PlaygroundFeatures
from thalweg.data.images import (
    DecodeImage,
    ImageFolder,
    as_image_batch,
    read_image,
    write_image,
    write_image_folder,
)
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
    "AUGMENTATIONS",
    "PLAYGROUND_FEATURES",
    "Augmenter",
    "DecodeImage",
    "FeatureCrosses",
    "ImageFolder",
    "InputProfile",
    "OneHotEncoder",
    "Pipeline",
    "PlaygroundFeatures",
    "Standardizer",
    "Stream",
    "as_image_batch",
    "preprocessor_from_config",
    "profile_input",
    "read_image",
    "stream",
    "train_val_test_split",
    "write_image",
    "write_image_folder",
]
