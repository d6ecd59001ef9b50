"""NumPy-only data tools (layer 2; never imports the engine): splitting, preprocessing,
streaming and input pipelines; the columns of a table (``columns.py``) and calendar
features of its dates (``calendar.py``); held-out rows of a stream (``holdout.py``); the
summary an estimator learns its preprocessing from (``summary.py``); images
(``images.py``), their augmentation (``augment.py``) and folders of images with boxes
(``detection_images.py``).

>>> from thalweg.data import Standardizer, train_val_test_split, stream, Pipeline, ImageFolder
"""

from thalweg.data.augment import AUGMENTATIONS, Augmenter
from thalweg.data.calendar import CalendarFeatures
from thalweg.data.detection_images import DetectionImages, load_detection_folder
from thalweg.data.features import PLAYGROUND_FEATURES, PlaygroundFeatures
from thalweg.data.holdout import Reservoir, RowSplit
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
from thalweg.data.summary import DataSummary, summarize_arrays, summarize_stream

__all__ = [
    "AUGMENTATIONS",
    "PLAYGROUND_FEATURES",
    "Augmenter",
    "CalendarFeatures",
    "DataSummary",
    "DecodeImage",
    "DetectionImages",
    "FeatureCrosses",
    "ImageFolder",
    "InputProfile",
    "OneHotEncoder",
    "Pipeline",
    "PlaygroundFeatures",
    "Reservoir",
    "RowSplit",
    "Standardizer",
    "Stream",
    "as_image_batch",
    "load_detection_folder",
    "preprocessor_from_config",
    "profile_input",
    "read_image",
    "stream",
    "summarize_arrays",
    "summarize_stream",
    "train_val_test_split",
    "write_image",
    "write_image_folder",
]
