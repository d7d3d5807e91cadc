"""Meta-features: a fast, deterministic description of a dataset for meta-learning.

    from automl_meta.metafeatures import compute_metafeatures, metafeature_names
    features = compute_metafeatures(dataset, seed=0)   # {name: finite float}

Groups (METAFEATURE_GROUPS): general, statistical, info_theory, landmarking, model_based.
Names follow OpenML's data qualities where the concept is the same; docs/metafeatures.md
lists every feature with its definition.
"""

from automl_meta.metafeatures.extraction import compute_metafeatures, raw_metafeatures
from automl_meta.metafeatures.specs import (
    FEATURES,
    GROUPS,
    METAFEATURE_GROUPS,
    OPENML_EXACT,
    MetaFeature,
    feature_table_markdown,
    metafeature_names,
)

__all__ = [
    "FEATURES",
    "GROUPS",
    "METAFEATURE_GROUPS",
    "OPENML_EXACT",
    "MetaFeature",
    "compute_metafeatures",
    "feature_table_markdown",
    "metafeature_names",
    "raw_metafeatures",
]
