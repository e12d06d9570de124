"""The flow's one parameter set, in sections; defaults are the tutorial's, bounds refuse bad
input early.

    source      your own rows and their columns             (data.py)
    generator   the tutorial's generated rows               (data.py)
    holdout     the test part, validation and gate rows     (data.py)
    network     the network's size and learning rate        (model.py)
    training    epochs, batches, seed, trainer, Dask        (model.py)
    selection   variants, class weights, thresholds, metric (model.py)
    gate        when a candidate replaces the champion      (model.py)
    nightly     the as-of time, skipping unchanged nights   (runs.py)
    storage     the artifacts folder and retention          (runs.py)

`RetrainConfig` (retrain.py) holds one of each; the flat form of earlier versions
(`{"epochs": 2}`) is mapped into the sections (flat.py), in Python and in the JSON schema
the server checks runs against.
"""

from imbalance.config.data import GeneratorSection, HoldoutSection, SourceSection, SplitKind
from imbalance.config.flat import Flat, flat_places
from imbalance.config.model import (
    GateSection,
    NetworkSection,
    SelectionMetric,
    SelectionSection,
    ThresholdPolicy,
    Trainer,
    TrainingSection,
    VariantName,
)
from imbalance.config.retrain import (
    NOT_LEARNED_FROM,
    RetrainConfig,
    describe_error,
    learned_part,
    recorded_fields,
)
from imbalance.config.runs import AS_OF_YEARS, NightlySection, StorageSection, parse_as_of

__all__ = [
    "AS_OF_YEARS",
    "NOT_LEARNED_FROM",
    "SourceSection",
    "Flat",
    "GateSection",
    "GeneratorSection",
    "NetworkSection",
    "NightlySection",
    "RetrainConfig",
    "SelectionMetric",
    "SelectionSection",
    "SplitKind",
    "HoldoutSection",
    "StorageSection",
    "ThresholdPolicy",
    "Trainer",
    "TrainingSection",
    "VariantName",
    "describe_error",
    "flat_places",
    "learned_part",
    "parse_as_of",
    "recorded_fields",
]
