"""Every rule initlint has, in code order. A rule is one class in one file of this package."""

from __future__ import annotations

from initlint.lint.rules.base import ClassRule, FileRule, Rule, TreeRule
from initlint.lint.rules.ini001_module_without_reset_parameters import ModuleWithoutResetParameters
from initlint.lint.rules.ini002_incomplete_reset_parameters import IncompleteResetParameters
from initlint.lint.rules.ini003_optimizer_before_setup import OptimizerBeforeSetup
from initlint.lint.rules.ini004_not_initialized_by_init_weights import NotInitializedByInitWeights
from initlint.lint.rules.ini101_partial_load_after_empty_init import PartialLoadAfterEmptyInit
from initlint.lint.rules.ini102_meta_model_moved_with_to import MetaModelMovedWithTo
from initlint.lint.rules.ini103_to_empty_without_init import ToEmptyWithoutInit
from initlint.lint.rules.ini104_init_module_with_sharded_trainer import InitModuleWithShardedTrainer
from initlint.lint.rules.ini105_deepspeed_separate_optimizer_setup import DeepSpeedSeparateOptimizerSetup
from initlint.lint.rules.ini106_load_into_meta_model import LoadIntoMetaModel
from initlint.lint.rules.ini107_empty_init_never_initialized import EmptyInitNeverInitialized
from initlint.lint.rules.ini108_non_persistent_buffers_after_load import NonPersistentBuffersAfterLoad
from initlint.lint.rules.ini109_tie_broken_by_to_empty import TieBrokenByToEmpty
from initlint.lint.rules.ini110_reset_loop_misses_builtins import ResetLoopMissesBuiltins
from initlint.lint.rules.ini401_large_layers_in_init_with_configure_model import LargeLayersInInitWithConfigureModel
from initlint.lint.rules.ini900_unparsable_file import UnparsableFile

__all__ = ["ALL_RULES", "RULES_BY_CODE", "ClassRule", "FileRule", "Rule", "TreeRule"]

ALL_RULES: tuple[type[Rule], ...] = (
    ModuleWithoutResetParameters,
    IncompleteResetParameters,
    OptimizerBeforeSetup,
    NotInitializedByInitWeights,
    PartialLoadAfterEmptyInit,
    MetaModelMovedWithTo,
    ToEmptyWithoutInit,
    InitModuleWithShardedTrainer,
    DeepSpeedSeparateOptimizerSetup,
    LoadIntoMetaModel,
    EmptyInitNeverInitialized,
    NonPersistentBuffersAfterLoad,
    TieBrokenByToEmpty,
    ResetLoopMissesBuiltins,
    LargeLayersInInitWithConfigureModel,
    UnparsableFile,
)
RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}
