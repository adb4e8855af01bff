"""The verifier inside other people's jobs: no changed weight, no leaked state, no cross-talk."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
import torch
from torch import nn

from initlint import UninitializedWeightsError, verified_empty_init
from initlint.runtime.tracker import Tracker

from ..runtime.models import Net

HOOKS = torch.nn.modules.module


def global_state() -> tuple:
    return (
        torch._C._len_torch_function_stack(),
        len(HOOKS._global_parameter_registration_hooks),
        len(HOOKS._global_buffer_registration_hooks),
        len(HOOKS._global_module_registration_hooks),
        torch.get_default_device(),
        torch.get_default_dtype(),
    )


@pytest.mark.parametrize("poison", [False, True])
def test_never_changes_a_written_weight(poison: bool) -> None:
    torch.manual_seed(0)
    state = Net().state_dict()
    plain = Net()
    plain.load_state_dict(state)
    with verified_empty_init(poison=poison) as tracker:
        model = Net()
    model.load_state_dict(state)
    model(torch.tensor([1, 2]))
    assert tracker.report().ok
    for (name, a), b in zip(plain.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b) and a.dtype == b.dtype, name


def test_exception_inside_the_context_restores_everything() -> None:
    before = global_state()
    with pytest.raises(RuntimeError, match="boom"):
        with verified_empty_init(torch.device("meta")):
            Net()
            raise RuntimeError("boom")
    assert global_state() == before
    assert not nn.Linear(4, 4).weight.is_meta  # the default device is back


def test_exception_inside_the_inner_context_enter() -> None:
    class Broken:
        def __enter__(self) -> None:
            raise OSError("no device")

        def __exit__(self, *args: object) -> None:
            pass

    before = global_state()
    with pytest.raises(OSError):
        with verified_empty_init(Broken()):
            pass
    assert global_state() == before


def test_exception_inside_load_state_dict_changes_nothing_more() -> None:
    with verified_empty_init() as tracker:
        model = Net()
    armed = global_state()
    bad = {k: torch.zeros(1) for k in Net().state_dict()}
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict(bad)
    assert global_state() == armed  # still watching, nothing else
    model.load_state_dict(Net().state_dict())  # a retry is tracked
    assert tracker.check().ok
    assert global_state()[:4] == (0, 0, 0, 0)


def test_exception_inside_forward_leaves_no_state() -> None:
    class Fails(Net):
        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            raise ValueError("bad batch")

    with verified_empty_init():
        model = Fails()
    model.load_state_dict(Net().state_dict())
    with pytest.raises(ValueError):
        model(torch.tensor([1]))
    assert global_state()[:4] == (0, 0, 0, 0)


def test_sequential_and_nested_contexts() -> None:
    before = global_state()
    for _ in range(3):
        with verified_empty_init() as outer:
            a = Net()
            with verified_empty_init(torch.device("meta")) as inner:
                b = Net()
        a.load_state_dict(Net().state_dict())
        b.load_state_dict(Net().state_dict(), assign=True)
        assert outer.check().ok and inner.check().ok
    assert global_state() == before


def test_checking_in_another_order_than_building() -> None:
    with verified_empty_init() as first:
        a = Net()
    with verified_empty_init() as second:
        b = Net()
    b.load_state_dict(Net().state_dict())
    assert second.check().ok  # removes its watcher from under the first one's
    a.load_state_dict(Net().state_dict())
    assert first.check().ok
    assert global_state()[:4] == (0, 0, 0, 0)


def test_two_threads_one_inside_one_outside() -> None:
    ready, done = threading.Event(), threading.Event()
    outside: list[nn.Module] = []

    def build_outside() -> None:
        ready.wait()
        torch.manual_seed(1)
        outside.append(nn.Linear(64, 64))
        done.set()

    worker = threading.Thread(target=build_outside)
    worker.start()
    with verified_empty_init() as tracker:
        model = Net()
        ready.set()
        done.wait(timeout=30)
    worker.join()
    (layer,) = outside
    assert layer.weight.std() > 0.01  # initialized normally: the skip-init mode is this thread's
    assert tracker.models == 1 and tracker.tensors == 5  # the other thread's layer is not tracked
    model.load_state_dict(Net().state_dict())
    assert tracker.check().ok


def test_deleted_model_leaves_no_reference() -> None:
    with verified_empty_init() as tracker:
        model = Net()
    params = [weakref.ref(p) for p in model.parameters()]
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None and all(p() is None for p in params)
    assert tracker.report().records == []
    tracker.close()


def test_twenty_thousand_small_tensors() -> None:
    class Many(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.params = nn.ParameterList(nn.Parameter(torch.empty(4)) for _ in range(20_000))

    with verified_empty_init() as tracker:
        model = Many()
    with torch.no_grad():
        for p in model.params:
            p.fill_(1.0)
    report = tracker.check()
    assert report.ok and len(report.records) == 20_000


def test_adopt_watches_an_existing_meta_model() -> None:
    with torch.device("meta"):
        model = Net()
    tracker = Tracker()
    tracker.adopt(model)
    model.to_empty(device="cpu")
    with pytest.raises(UninitializedWeightsError):
        tracker.check()
