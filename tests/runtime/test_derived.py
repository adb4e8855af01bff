"""Garbage spreads: a value computed from memory nobody wrote is no more written than its source."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initlint import Origin, UninitializedWeightsError, verified_empty_init


def failures(error: pytest.ExceptionInfo[UninitializedWeightsError]) -> dict[str, str]:
    return {r.name: r.origin for r in error.value.report.failures}


class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.empty(4) * 2)  # 5.5e19 or NaN: garbage, doubled
        self.register_buffer("positions", torch.arange(4) * 2.0)  # a real computed value


def test_a_parameter_computed_from_empty_memory_is_named_in_default_mode() -> None:
    with verified_empty_init() as tracker:
        model = Scaled()
    model.fc.load_state_dict(nn.Linear(4, 4).state_dict())
    with pytest.raises(UninitializedWeightsError, match="scale: computed from memory nobody wrote") as error:
        tracker.check()
    assert failures(error) == {"scale": Origin.DERIVED}  # positions: computed from arange, real


def test_spectral_norm_vectors_missing_from_the_checkpoint_are_named() -> None:
    """weight_u/weight_v = normalize(empty.normal_()): the fill is skipped, the normalized garbage is derived."""

    class Critic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.utils.spectral_norm(nn.Linear(4, 4))

    with verified_empty_init() as tracker:
        model = Critic()
    checkpoint = {k: v for k, v in Critic().state_dict().items() if not k.endswith("weight_u")}
    model.load_state_dict(checkpoint, strict=False)
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failures(error) == {"fc.weight_u": Origin.DERIVED}


def test_an_in_place_op_with_a_garbage_operand_spoils_a_written_tensor() -> None:
    with verified_empty_init() as tracker:
        model = nn.Linear(4, 4)
    model.load_state_dict(nn.Linear(4, 4).state_dict())
    noise = torch.empty(4)
    with torch.no_grad():
        model.bias.add_(noise)
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failures(error) == {"bias": Origin.DERIVED}


def test_copies_and_computations_of_loaded_values_stay_written() -> None:
    with verified_empty_init() as tracker:
        model = Scaled()
    state = Scaled().state_dict()
    state["scale"] = torch.ones(4)
    model.load_state_dict(state)
    with torch.no_grad():
        model.fc.weight.mul_(2).add_(model.scale.clone() * 0.5)
    assert tracker.check().ok


def test_a_tuple_of_out_tensors_is_written() -> None:
    class Factors(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("q", torch.empty(3, 3))
            self.register_buffer("r", torch.empty(3, 3))
            torch.linalg.qr(torch.eye(3), out=(self.q, self.r))

    with verified_empty_init() as tracker:
        model = Factors()
    assert tracker.check().ok and {r.name for r in tracker.verdict} == {"q", "r"}
    assert model.q.shape == (3, 3)
