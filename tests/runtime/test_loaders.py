"""The verifier on the ecosystem's real loading paths, each with a complete and a partial checkpoint.

A complete checkpoint passes and the weights equal the checkpoint's; a partial one names exactly the
tensors left as garbage, and none that were loaded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from initlint import UninitializedWeightsError, UninitializedWeightsWarning, verified_empty_init
from initlint.runtime import Status

from .models import Net, RopeNet, WithEmptyParameter

lightning = pytest.importorskip("lightning")


def failed(error: pytest.ExceptionInfo) -> set[str]:
    return {r.name for r in error.value.report.failures}


def assert_equal_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    current = model.state_dict()
    for key, value in state.items():
        assert torch.equal(current[key], value), key


class LitNet(lightning.LightningModule):
    """A LightningModule with its hyper-parameters saved, as ``load_from_checkpoint`` needs."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim), nn.Linear(dim, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def save_lit(path: Path, drop: str | None = None) -> dict[str, torch.Tensor]:
    model = LitNet()
    trainer = lightning.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    if drop is not None:
        checkpoint = torch.load(path, weights_only=False)
        del checkpoint["state_dict"][drop]
        torch.save(checkpoint, path)
    return {k: v.clone() for k, v in model.state_dict().items()}


# -- Lightning -----------------------------------------------------------------------------------
@pytest.mark.parametrize("context", ["trainer", "fabric"])
def test_load_from_checkpoint_inside_init_module(tmp_path: Path, context: str) -> None:
    path = tmp_path / "lit.ckpt"
    state = save_lit(path)
    owner = lightning.Trainer(accelerator="cpu", devices=1, logger=False) if context == "trainer" else lightning.Fabric(accelerator="cpu", devices=1)
    with verified_empty_init(owner.init_module(empty_init=True)) as tracker:
        model = LitNet.load_from_checkpoint(path)
    model(torch.ones(1, 8))  # the first forward checks
    assert tracker.verdict.ok
    assert_equal_state(model, state)


@pytest.mark.parametrize("context", ["trainer", "fabric"])
def test_load_from_checkpoint_partial_names_the_missing_key(tmp_path: Path, context: str) -> None:
    path = tmp_path / "lit.ckpt"
    save_lit(path, drop="net.2.bias")
    owner = lightning.Trainer(accelerator="cpu", devices=1, logger=False) if context == "trainer" else lightning.Fabric(accelerator="cpu", devices=1)
    with verified_empty_init(owner.init_module(empty_init=True)):
        model = LitNet.load_from_checkpoint(path, strict=False)
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.ones(1, 8))
    assert failed(error) == {"net.2.bias"}


@pytest.mark.parametrize("drop", [None, "proj.bias"])
def test_fabric_load_with_a_computed_rope_table(tmp_path: Path, drop: str | None) -> None:
    fabric = lightning.Fabric(accelerator="cpu", devices=1)
    reference = RopeNet()
    state = {k: v for k, v in reference.state_dict().items() if k != drop}
    fabric.save(tmp_path / "ckpt", {"model": reference})
    if drop:
        torch.save({"model": state}, tmp_path / "partial.pt")
    with verified_empty_init(fabric.init_module(empty_init=True)) as tracker:
        model = RopeNet()
    model = fabric.setup(model)
    if drop:
        fabric.load(tmp_path / "partial.pt", {"model": model}, strict=False)
        with pytest.raises(UninitializedWeightsError) as error:
            model(torch.ones(1, 8))
        assert failed(error) == {drop}  # rope.inv_freq holds the values its constructor computed
    else:
        fabric.load(tmp_path / "ckpt", {"model": model})
        model(torch.ones(1, 8))
        assert tracker.verdict.ok
        assert tracker.verdict.by_name()["rope.inv_freq"].status == Status.COMPUTED
        assert_equal_state(model, reference.state_dict())


def test_portable_reports_the_computed_rope_table(tmp_path: Path) -> None:
    fabric = lightning.Fabric(accelerator="cpu", devices=1)
    reference = RopeNet()
    with verified_empty_init(fabric.init_module(empty_init=True), portable=True) as tracker:
        model = RopeNet()
    model.load_state_dict(reference.state_dict())
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failed(error) == {"rope.inv_freq"}


# -- plain torch and safetensors -----------------------------------------------------------------
@pytest.mark.parametrize("drop", [None, "fc2.weight"])
def test_torch_load_mmap_assign(tmp_path: Path, drop: str | None) -> None:
    reference = Net()
    state = {k: v for k, v in reference.state_dict().items() if k != drop}
    torch.save(state, tmp_path / "net.pt")
    with verified_empty_init() as tracker:
        model = Net()
    loaded = torch.load(tmp_path / "net.pt", mmap=True, weights_only=True)
    model.load_state_dict(loaded, assign=True, strict=drop is None)
    if drop:
        with pytest.raises(UninitializedWeightsError) as error:
            tracker.check()
        assert failed(error) == {drop}
    else:
        assert tracker.check().ok
        assert_equal_state(model, state)


@pytest.mark.parametrize("drop", [None, "fc1.bias"])
def test_safetensors_load_model(tmp_path: Path, drop: str | None) -> None:
    from safetensors.torch import load_model, save_file

    reference = Net()
    state = {k: v.contiguous() for k, v in reference.state_dict().items() if k != drop}
    save_file(state, tmp_path / "net.safetensors")
    with verified_empty_init() as tracker:
        model = Net()
    load_model(model, tmp_path / "net.safetensors", strict=drop is None)
    if drop:
        with pytest.raises(UninitializedWeightsError) as error:
            tracker.check()
        assert failed(error) == {drop}
    else:
        assert tracker.check().ok
        assert_equal_state(model, state)


def test_lazy_module_is_verified_once_materialized() -> None:
    with verified_empty_init() as tracker:
        model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 2))
    model[2].reset_parameters()
    out = model(torch.ones(3, 5))  # LazyLinear materializes and resets itself in this forward
    assert out.shape == (3, 2) and tracker.verdict.ok


def test_lazy_module_garbage_elsewhere_still_fails_at_the_first_forward() -> None:
    with verified_empty_init() as tracker:
        model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.ones(3, 5))
    assert failed(error) == {"2.weight", "2.bias"}  # LazyLinear reset itself: not reported
    del tracker


@pytest.mark.parametrize("complete", [True, False])
def test_torch_compile_first_forward_still_checks(complete: bool) -> None:
    reference = Net()
    state = {k: v for k, v in reference.state_dict().items() if complete or k != "fc1.weight"}
    with verified_empty_init() as tracker:
        model = Net()
    model.load_state_dict(state, strict=False)
    compiled = torch.compile(model, backend="eager")
    if complete:
        compiled(torch.tensor([1, 2]))
        assert tracker.verdict.ok
    else:
        with pytest.raises(UninitializedWeightsError) as error:
            compiled(torch.tensor([1, 2]))
        assert failed(error) == {"fc1.weight"}


def test_reinitialized_after_load_is_warned_not_raised() -> None:
    reference = Net()
    with verified_empty_init() as tracker:
        model = Net()
    model.load_state_dict(reference.state_dict())
    nn.init.normal_(model.fc1.weight)  # the loaded values are gone
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = tracker.check()
    assert report.ok
    assert report.by_name()["fc1.weight"].status == Status.REINITIALIZED
    messages = [str(w.message) for w in caught if issubclass(w.category, UninitializedWeightsWarning)]
    assert len(messages) == 1 and "fc1.weight" in messages[0] and "fc2.weight" not in messages[0]


def test_internal_error_becomes_a_warning_and_the_model_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from initlint.runtime import tracker as tracking

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bookkeeping bug")

    with verified_empty_init() as tracker:
        model = Net()
    model.load_state_dict(Net().state_dict())
    monkeypatch.setattr(tracking.Tracker, "report", broken)
    with pytest.warns(UninitializedWeightsWarning, match="could not verify"):
        out = model(torch.tensor([1, 2]))
    assert out.shape[0] == 2


def test_parameter_of_torch_empty_is_garbage_under_every_empty_init() -> None:
    with verified_empty_init(lightning.Fabric(accelerator="cpu", devices=1).init_module(empty_init=True)) as tracker:
        model = WithEmptyParameter()
    model.proj.reset_parameters()
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert failed(error) == {"gain"}


# -- torch.distributed.checkpoint, one process -----------------------------------------------------
@pytest.mark.parametrize("drop", [None, "fc1.bias"])
def test_dcp_load_in_place(tmp_path: Path, drop: str | None) -> None:
    import torch.distributed.checkpoint as dcp

    reference = Net()
    state = {k: v for k, v in reference.state_dict().items() if k != drop}
    dcp.save(state, checkpoint_id=tmp_path / "dcp", no_dist=True)
    with verified_empty_init(torch.device("meta")) as tracker:
        model = Net()
    model.to_empty(device="cpu")
    target = {k: v for k, v in model.state_dict().items() if k != drop}
    dcp.load(target, checkpoint_id=tmp_path / "dcp", no_dist=True)
    if drop:
        with pytest.raises(UninitializedWeightsError) as error:
            tracker.check()
        assert failed(error) == {drop}
    else:
        assert tracker.check().ok
        assert_equal_state(model, state)


# -- ColossalAI's LazyInitContext ------------------------------------------------------------------
def lazy_init_context() -> type:
    lazy = pytest.importorskip("colossalai.lazy")
    return lazy.LazyInitContext


def test_colossalai_lazy_init_materialize_passes_initialized_layers() -> None:
    context = lazy_init_context()
    with verified_empty_init(context()) as tracker:
        model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    context.materialize(model)
    model(torch.ones(2, 3))
    assert tracker.verdict.ok


def test_colossalai_lazy_init_materialize_names_the_empty_parameter() -> None:
    context = lazy_init_context()
    with verified_empty_init(context()) as tracker:
        model = WithEmptyParameter()
    context.materialize(model)
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.ones(2, 3))
    assert failed(error) == {"gain"}
    del tracker


def test_colossalai_lazy_init_unmaterialized_is_reported() -> None:
    context = lazy_init_context()
    with verified_empty_init(context(), strict=False) as tracker:
        model = nn.Linear(3, 4)
    with pytest.raises(UninitializedWeightsError) as error:  # meta/lazy tensors raise in both modes
        tracker.check()
    assert failed(error) == {"weight", "bias"}
    assert {r.status for r in error.value.report.failures} == {Status.ON_META}
    del model
