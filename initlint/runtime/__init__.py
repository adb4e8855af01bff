"""The runtime verifier: track every tensor built under empty init until it is written."""

from initlint.runtime.context import verified_empty_init
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
    "InitReport",
    "TensorRecord",
    "Status",
    "UninitializedWeightsError",
    "UninitializedWeightsWarning",
]
