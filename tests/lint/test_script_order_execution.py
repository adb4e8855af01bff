"""The script-order examples of issue 20 are real: run under the NaN-fill oracle, every INVALID
example leaves a model with NaN (or meta) tensors, and every VALID one leaves none."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from initlint.lint.rules import RULES_BY_CODE
from initlint.lint.rules.base import Invalid, Valid

_CODES = ("INI103", "INI106", "INI107", "INI108", "INI110")
# Examples that cannot show their outcome here, and why.
_NOT_RUN = {
    ("INI103", 6): "the model lives inside main(); it prints NaN but is not returned",
    ("INI107", 2): "FSDP needs a GPU",
}
CASES = [
    pytest.param(code, i, example, id=f"{code}-{'valid' if isinstance(example, Valid) else 'invalid'}-{i}")
    for code in _CODES
    for i, example in enumerate((*RULES_BY_CODE[code].VALID, *RULES_BY_CODE[code].INVALID))
    if (code, i) not in _NOT_RUN
]


def _bad_tensors(module: Any, torch: Any) -> list[str]:
    found = []
    for name, value in [*module.named_parameters(), *module.named_buffers()]:
        if value.is_meta:
            found.append(f"{name} (meta)")
        elif value.is_floating_point() and bool(torch.isnan(value).any()):
            found.append(f"{name} (NaN)")
    return found


@pytest.mark.parametrize(("code", "index", "example"), CASES)
def test_example_by_execution(code: str, index: int, example: Any, tmp_path: Path, monkeypatch: Any) -> None:
    torch = pytest.importorskip("torch")
    lightning = pytest.importorskip("lightning")
    pytest.importorskip("accelerate")
    checkpoint = object()  # torch.load gives it; a load fills every persistent tensor with real values
    original = torch.nn.Module.load_state_dict

    def load_state_dict(self: Any, state: Any, *args: Any, **kwargs: Any) -> Any:
        if state is checkpoint:
            state = {k: torch.randn(v.shape) if v.is_floating_point() else torch.zeros_like(v, device="cpu")
                     for k, v in self.state_dict().items()}
        return original(self, state, *args, **kwargs)

    monkeypatch.setattr(torch, "load", lambda *a, **k: checkpoint)
    monkeypatch.setattr(torch.nn.Module, "load_state_dict", load_state_dict)
    monkeypatch.setattr(lightning.Trainer, "fit", lambda self, model, *a, **k: None)
    monkeypatch.chdir(tmp_path)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(example.code, f"{code}-{index}.py", "exec"), namespace)
            for function in ("main", "build", "get_model"):
                called = namespace.get(function)
                if callable(called) and called.__code__.co_argcount == len(called.__defaults__ or ()):
                    namespace[f"{function}()"] = called()  # build(path=None): the path without a checkpoint
                elif callable(called):
                    namespace[f"{function}()"] = namespace[function](os.fspath(tmp_path / "ckpt.pt"))
    finally:
        torch.use_deterministic_algorithms(False)
        torch.utils.deterministic.fill_uninitialized_memory = False
    bad = {name: _bad_tensors(value, torch) for name, value in namespace.items() if isinstance(value, torch.nn.Module)}
    bad = {name: tensors for name, tensors in bad.items() if tensors}
    if isinstance(example, Valid):
        assert bad == {}, bad
    else:
        assert bad, "the INVALID example left every tensor initialized"


@pytest.mark.parametrize(
    ("index", "example"),
    [pytest.param(i, e, id=f"INI109-{i}") for i, e in enumerate((*RULES_BY_CODE["INI109"].VALID,
                                                                    *RULES_BY_CODE["INI109"].INVALID))],
)
def test_tie_examples_by_execution(index: int, example: Any, monkeypatch: Any) -> None:
    """INI109's INVALID examples end with an output head nothing wrote, where ``__init__`` tied it to the
    embedding; in its VALID ones the head is the embedding again."""
    torch = pytest.importorskip("torch")
    checkpoint = object()
    original = torch.nn.Module.load_state_dict

    def load_state_dict(self: Any, state: Any, *args: Any, **kwargs: Any) -> Any:
        if state is checkpoint:  # as safetensors and save_pretrained write it: the shared weight once
            state = {k: torch.randn(v.shape) for k, v in self.state_dict().items() if k != "lm_head.weight"}
        return original(self, state, *args, **kwargs)

    monkeypatch.setattr(torch, "load", lambda *a, **k: checkpoint)
    monkeypatch.setattr(torch.nn.Module, "load_state_dict", load_state_dict)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(example.code, f"INI109-{index}.py", "exec"), namespace)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.utils.deterministic.fill_uninitialized_memory = False
    head = namespace["model"].lm_head.weight
    assert bool(torch.isnan(head).any()) == isinstance(example, Invalid)
