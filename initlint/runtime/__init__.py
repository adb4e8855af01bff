"""The runtime verifier: where every tensor built under empty init got its values, and a verdict on garbage."""

from initlint.runtime.context import verified_empty_init
from initlint.runtime.provenance import Origin
from initlint.runtime.report import (
    InitReport,
    Status,
    TensorRecord,
    UninitializedWeightsError,
    UninitializedWeightsWarning,
)
from initlint.runtime.tracker import Tracker

__all__ = [
    "verified_empty_init",
    "Tracker",
    "Origin",
    "InitReport",
    "TensorRecord",
    "Status",
    "UninitializedWeightsError",
    "UninitializedWeightsWarning",
]
