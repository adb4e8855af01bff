"""The verifier on plain torch: every way a tensor gets written, or doesn't."""

from __future__ import annotations

import gc
import warnings
import weakref

import pytest
import torch
from torch import nn

from initlint import UninitializedWeightsError, UninitializedWeightsWarning, verified_empty_init
from initlint.runtime import Status

from .models import Affine, ForgetsBias, Net, Tied, WithRope, reset_all


def failed_names(error: pytest.ExceptionInfo[UninitializedWeightsError]) -> set[str]:
    return {r.name for r in error.value.report.failures}


def test_full_load_passes() -> None:
    state = Net().state_dict()
    with verified_empty_init() as tracker:
        model = Net()
    model.load_state_dict(state)
    report = tracker.check()
    assert report.ok and len(report.records) == 5
    assert all(r.status == Status.WRITTEN for r in report.records)


def test_partial_load_names_missing_tensors() -> None:
    state = {k: v for k, v in Net().state_dict().items() if not k.startswith("fc2.")}
    with verified_empty_init() as tracker:
        model = Net()
    result = model.load_state_dict(state, strict=False)
    assert set(result.missing_keys) == {"fc2.weight", "fc2.bias"}
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failed_names(error) == {"fc2.weight", "fc2.bias"}
    message = str(error.value)
    assert "fc2 (Linear):" in message and "weight" in message and "bias" in message
    assert "2 of 5 tensors" in message and "missing_keys" in message


def test_reset_parameters_forgetting_the_bias() -> None:
    with verified_empty_init() as tracker:
        model = ForgetsBias()
    model.reset_parameters()
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failed_names(error) == {"bias"}


def test_non_persistent_buffer_computed_by_the_constructor_is_a_real_value() -> None:
    state = WithRope().state_dict()
    assert "inv_freq" not in state
    with verified_empty_init() as tracker:
        model = WithRope()
    model.load_state_dict(state)
    report = tracker.check()
    assert report.by_name()["inv_freq"].status == Status.COMPUTED and report.ok


def test_portable_reports_a_buffer_no_load_or_reset_writes() -> None:
    state = WithRope().state_dict()
    with verified_empty_init(portable=True) as tracker:
        model = WithRope()
    model.load_state_dict(state)
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failed_names(error) == {"inv_freq"}
    assert "meta-device or sharded init" in str(error.value)


def test_ignore_and_mark_initialized_opt_out() -> None:
    state = WithRope().state_dict()
    with verified_empty_init(ignore=["*inv_freq"]) as tracker:
        model = WithRope()
    model.load_state_dict(state)
    assert tracker.check().ok
    with verified_empty_init() as tracker:
        model = WithRope()
    model.load_state_dict(state)
    tracker.mark_initialized("inv_freq")
    assert tracker.check().ok


def test_apply_init_fn_covering_everything_passes() -> None:
    def init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=0.02)  # through .data, as Hugging Face does

    with verified_empty_init() as tracker:
        model = Net()
    model.apply(init)
    assert tracker.check().ok


def test_writes_through_data_are_seen() -> None:
    with verified_empty_init() as tracker:
        model = Net()
    for param in model.parameters():
        param.data.uniform_(-0.1, 0.1)
    assert tracker.check().ok


def test_assigning_data_counts_as_a_write() -> None:
    with verified_empty_init() as tracker:
        model = Affine()
    model.weight.data = torch.ones(4, 4)
    report = tracker.check()
    assert report.by_name()["weight"].status == Status.WRITTEN
    assert report.by_name()["bias"].status == Status.COMPUTED  # nn.init.zeros_ is a constant fill: never skipped


def test_meta_to_empty_then_reset_passes() -> None:
    with verified_empty_init(torch.device("meta")) as tracker:
        model = Net()
    assert all(p.is_meta for p in model.parameters())
    model.to_empty(device="cpu")
    reset_all(model)
    assert tracker.check().ok


def test_meta_to_empty_without_reset_fails() -> None:
    with verified_empty_init(torch.device("meta")) as tracker:
        model = Net()
    model.to_empty(device="cpu")
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failed_names(error) == {"embed.weight", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}


def test_left_on_meta_is_an_error_even_when_not_strict() -> None:
    with verified_empty_init(torch.device("meta"), strict=False) as tracker:
        model = Net()
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert {r.status for r in error.value.report.failures} == {Status.ON_META}
    assert "to_empty" in str(error.value)
    del model


def test_assign_true_full_load_passes() -> None:
    state = Net().state_dict()
    with verified_empty_init(torch.device("meta")) as tracker:
        model = Net()
    model.load_state_dict(state, assign=True)
    assert tracker.check().ok


def test_nan_in_checkpoint_fails_strict_and_warns_otherwise() -> None:
    state = Net().state_dict()
    state["fc1.weight"][0, 0] = float("nan")
    for strict in (True, False):
        with verified_empty_init(strict=strict) as tracker:
            model = Net()
        model.load_state_dict(state)
        if strict:
            with pytest.raises(UninitializedWeightsError) as error:
                tracker.check()
            assert failed_names(error) == {"fc1.weight"}
            assert "1 of 32 elements are NaN/inf" in str(error.value)
        else:
            with pytest.warns(UninitializedWeightsWarning, match="fc1"):
                report = tracker.check()
            assert [r.name for r in report.failures] == ["fc1.weight"]


def test_intact_tie_is_one_tensor_with_two_names() -> None:
    with verified_empty_init() as tracker:
        model = Tied()
    model.load_state_dict(Tied().state_dict())
    report = tracker.check()
    assert report.ok
    assert [(r.name, r.aliases) for r in report.records] == [("embed.weight", ("head.weight",))]


def test_broken_tie_is_reported() -> None:
    with verified_empty_init(torch.device("meta")) as tracker:
        model = Tied()
    model.to_empty(device="cpu")
    model.head.weight = nn.Parameter(torch.zeros(10, 4))  # the tie is gone
    model.embed.reset_parameters()
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    broken = [r for r in error.value.report.failures if r.status == Status.TIE_BROKEN]
    assert [(r.name, r.detail) for r in broken] == [("embed.weight", "head.weight")]


def test_first_forward_checks_once_then_removes_its_hook() -> None:
    state = {k: v for k, v in Net().state_dict().items() if k != "fc1.bias"}
    with verified_empty_init() as tracker:
        model = Net()
    model.load_state_dict(state, strict=False)
    tokens = torch.tensor([1, 2])
    with pytest.raises(UninitializedWeightsError) as error:
        model(tokens)
    assert failed_names(error) == {"fc1.bias"}
    assert not model._forward_pre_hooks
    model(tokens)  # checked once: no second error


def test_forward_after_full_load_runs_and_disarms() -> None:
    with verified_empty_init() as tracker:
        model = Net()
    model.load_state_dict(Net().state_dict())
    model(torch.tensor([1]))
    assert tracker.report().ok
    assert torch._C._len_torch_function_stack() == 0


def test_poison_counts_unwritten_elements() -> None:
    with verified_empty_init(poison=True) as tracker:
        model = Affine(64)
    with torch.no_grad():
        model.weight[:32] = 1.0  # half of the rows
        model.bias.zero_()
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    (record,) = error.value.report.failures
    assert (record.name, record.status, record.unwritten, record.numel) == (
        "weight",
        Status.PARTLY_WRITTEN,
        2048,
        4096,
    )
    assert "weight" in str(error.value) and "2048 of 4096 elements never written" in str(error.value)


def test_poison_makes_reads_of_skipped_memory_nan() -> None:
    with verified_empty_init(poison=True, check_on_forward=False) as tracker:
        model = Affine(4)
    assert torch.isnan(model(torch.ones(1, 4))).all()
    tracker.close()


def test_poison_never_changes_a_loaded_weight() -> None:
    state = Net().state_dict()
    with verified_empty_init(poison=True) as tracker:
        model = Net()
    model.load_state_dict(state)
    tracker.check()
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_nn_buffer_assignment_is_tracked() -> None:
    class WithBuffer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.steps = nn.Buffer(torch.zeros((), dtype=torch.long))

    with verified_empty_init(portable=True) as tracker:
        model = WithBuffer()
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failed_names(error) == {"steps"}
    del model


def test_values_computed_at_build_time_fail_only_when_portable() -> None:
    with verified_empty_init() as tracker:
        model = nn.BatchNorm1d(4)  # running stats computed by the constructor
    report = tracker.check()
    assert report.by_name()["running_mean"].status == Status.COMPUTED
    assert report.ok  # weight and bias: ones_/zeros_ are constant fills, never skipped
    with verified_empty_init(portable=True) as tracker:
        model = nn.BatchNorm1d(4)
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert {"running_mean", "running_var", "num_batches_tracked"} <= failed_names(error)
    del model


def test_state_is_restored_after_exception_and_nested_contexts() -> None:
    before = torch._C._len_torch_function_stack()
    with pytest.raises(ValueError):
        with verified_empty_init():
            nn.Linear(2, 2)
            raise ValueError("boom")
    assert torch._C._len_torch_function_stack() == before
    assert not torch.nn.modules.module._global_parameter_registration_hooks
    with verified_empty_init() as outer:
        a = Affine()
        with verified_empty_init() as inner:
            b = Affine()
    a.load_state_dict(Affine().state_dict())
    b.load_state_dict(Affine().state_dict())
    assert inner.check().ok and outer.check().ok
    assert torch._C._len_torch_function_stack() == before
    assert not torch.nn.modules.module._global_parameter_registration_hooks


def test_modules_built_afterwards_initialize_normally() -> None:
    with verified_empty_init() as tracker:
        Affine()
    tracker.close()
    torch.manual_seed(0)
    layer = nn.Linear(64, 64)
    assert layer.weight.abs().max() <= 1 / 8 + 1e-6 and layer.weight.std() > 0.01


def test_skips_init_while_building() -> None:
    torch.manual_seed(0)
    with verified_empty_init(check_on_forward=False) as tracker:
        with torch.device("meta"):
            pass
        layer = nn.Linear(4, 4)
    tracker.close()
    torch.manual_seed(0)
    assert not torch.equal(layer.weight, nn.Linear(4, 4).weight)


def test_tracker_holds_no_reference_to_the_model() -> None:
    with verified_empty_init() as tracker:
        model = Net()
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
    assert tracker.check().records == []


def test_torch_compile_works() -> None:
    state = Net().state_dict()
    with verified_empty_init() as tracker:
        model = Net()
    model.load_state_dict(state)
    compiled = torch.compile(model, backend="eager")
    out = compiled(torch.tensor([1, 2]))
    assert out.shape == (2, 4)
    assert tracker.report().ok and torch._C._len_torch_function_stack() == 0


def test_no_grad_and_inference_mode() -> None:
    with torch.no_grad(), verified_empty_init() as tracker:
        model = Net()
    with torch.inference_mode():
        model.load_state_dict(Net().state_dict())
    model.eval()
    with torch.no_grad():
        model(torch.tensor([1]))
    assert tracker.report().ok


def test_warn_mode_warns() -> None:
    with verified_empty_init(strict=False) as tracker:
        model = Affine()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model(torch.ones(1, 4))
    assert any(issubclass(w.category, UninitializedWeightsWarning) for w in caught)
    assert {r.name for r in tracker.report().failures} == {"weight"}  # zeros_ is a constant fill, bias computed
