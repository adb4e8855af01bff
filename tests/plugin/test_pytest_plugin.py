"""The pytest plugin, through real pytest sessions run by ``pytester``."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

pytest_plugins = ["pytester"]

# The sessions under test run in subprocesses; nothing heavy is imported here, because pytester
# restores sys.modules after each test and torch cannot be imported twice in one process.
needs = {name: pytest.mark.skipif(find_spec(name) is None, reason=f"{name} not installed")
         for name in ("lightning", "accelerate", "xdist")}

MODEL = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(self.fc1(x))

def partial_state():
    return {k: v for k, v in Net().state_dict().items() if k != "fc2.bias"}
"""

TESTS = MODEL + """
def test_partial_checkpoint_under_meta():
    with torch.device("meta"):
        model = Net()
    model.to_empty(device="cpu")
    model.load_state_dict(partial_state(), strict=False)
    model(torch.ones(1, 4))

def test_full_checkpoint_under_meta():
    with torch.device("meta"):
        model = Net()
    model.to_empty(device="cpu")
    model.load_state_dict(Net().state_dict())
    model(torch.ones(1, 4))

def test_plain_model_is_never_touched():
    model = Net()
    model(torch.ones(1, 4))
"""


def test_without_the_flag_nothing_happens(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=3)
    assert "empty-init verification" not in result.stdout.str()


def test_without_the_flag_torch_is_not_imported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import sys\n\ndef test_it():\n    assert 'torch' not in sys.modules\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_check_init_fails_the_partial_checkpoint_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("--check-init")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*UninitializedWeightsError*1 of 4 tensors*never written*",
            "*fc2 (Linear):*",
            "*bias*never written*",
            "*initlint: empty-init verification*",
            "2 models verified, 8 tensors tracked, 1 failed",
        ]
    )


def test_warn_mode_warns_instead(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("--check-init=warn", "-W", "always")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(["*UninitializedWeightsWarning*"])


def test_ini_and_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(TESTS)
    pytester.makeini("[pytest]\ncheck_init = true\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=2, failed=1)
    pytester.makeini("[pytest]\n")
    monkeypatch.setenv("INITLINT_CHECK_INIT", "1")
    pytester.runpytest_subprocess().assert_outcomes(passed=2, failed=1)
    monkeypatch.setenv("INITLINT_CHECK_INIT", "sometimes")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*check_init must be true, false or warn, not 'sometimes'*"])


def test_markers_take_precedence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        MODEL
        + """
import pytest

def build():
    with torch.device("meta"):
        model = Net()
    model.to_empty(device="cpu")
    model.load_state_dict(partial_state(), strict=False)
    return model

@pytest.mark.no_check_init
def test_opted_out():
    build()(torch.ones(1, 4))

@pytest.mark.check_init(strict=False)
def test_warns_only():
    with pytest.warns(Warning):
        build()(torch.ones(1, 4))

@pytest.mark.check_init
def test_armed_by_marker():
    build()(torch.ones(1, 4))
"""
    )
    pytester.runpytest_subprocess("--check-init").assert_outcomes(passed=2, failed=1)
    pytester.runpytest_subprocess().assert_outcomes(passed=2, failed=1)  # the marker arms it alone


def test_init_tracker_fixture_and_verified_empty_init(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        MODEL
        + """
from initlint import verified_empty_init

def test_fixture(init_tracker):
    with verified_empty_init():
        model = Net()
    model.load_state_dict(Net().state_dict())
    assert init_tracker.last.tensors == 4
    init_tracker.check()
    assert init_tracker.last.verdict.ok
"""
    )
    pytester.runpytest_subprocess("--check-init").assert_outcomes(passed=1)


def test_patches_are_restored_after_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        MODEL
        + """
ORIGINAL = torch.nn.Module.to_empty

def test_patched():
    assert torch.nn.Module.to_empty is not ORIGINAL

def test_restored_after():
    assert torch._C._len_torch_function_stack() == 0
"""
    )
    pytester.runpytest_subprocess("--check-init", "-p", "no:randomly").assert_outcomes(passed=2)


@needs["lightning"]
def test_real_lightning_fabric(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        MODEL
        + """
import lightning as L

def test_fabric_partial_checkpoint():
    fabric = L.Fabric(accelerator="cpu", devices=1)
    with fabric.init_module(empty_init=True):
        model = Net()
    model.load_state_dict(partial_state(), strict=False)
    model = fabric.setup(model)
    model(torch.ones(1, 4))
"""
    )
    result = pytester.runpytest_subprocess("--check-init")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fc2 (Linear):*", "*bias*never written*"])


@needs["accelerate"]
def test_real_accelerate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        MODEL
        + """
from accelerate import init_empty_weights

def test_accelerate_partial_assign():
    with init_empty_weights():
        model = Net()
    model.load_state_dict(partial_state(), strict=False, assign=True)
    model(torch.ones(1, 4))
"""
    )
    result = pytester.runpytest_subprocess("--check-init")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*still on the meta device*"])


@needs["xdist"]
def test_works_with_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("--check-init", "-n", "2")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["2 models verified, 8 tensors tracked, 1 failed"])
