"""The pytest plugin, through real pytest sessions run by ``pytester``."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

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


def test_the_installed_plugin_is_this_checkout() -> None:
    """An editable install copies plugin/pytest_initlint.py (hatch force-include): after an edit the
    sessions below would test the old copy."""
    import pytest_initlint

    here = Path(__file__).resolve().parents[2] / "plugin" / "pytest_initlint.py"
    assert Path(pytest_initlint.__file__).read_bytes() == here.read_bytes(), (
        f"{pytest_initlint.__file__} is not {here}: run `pip install -e .` again"
    )


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
            "initlint: 1 of 4 tensors*never written*",  # the report first, as pytest shows an assertion
            "*fc2 (Linear):*",
            "*bias*never written*",
            "The first forward that checked it:",
            "*test_check_init_fails_the_partial_checkpoint_test.py:*: in test_partial_checkpoint_under_meta",
            "    model(torch.ones(1, 4))",
            "E   UninitializedWeightsError: 1 of 4 tensors*never written*",
            "*initlint: empty-init verification*",
            "2 models verified, 8 tensors tracked, 1 failed",
        ]
    )
    failure = result.stdout.str().split("test_partial_checkpoint_under_meta _")[1].split("initlint: empty-init")[0]
    assert "initlint/runtime" not in failure and "torch/nn" not in failure and "pluggy" not in failure
    assert len(failure.splitlines()) < 20, failure


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


# Libraries imported while a test runs (issue 13): each session starts without Lightning, so the
# first test that needs it imports it itself; the finder patches it as its defining module runs.
LATE_FABRIC = MODEL + """
import sys
import pytest

def build(partial):
    L = pytest.importorskip("lightning")
    fabric = L.Fabric(accelerator="cpu", devices=1)
    with fabric.init_module(empty_init=True):
        model = Net()
    model.load_state_dict(partial_state() if partial else Net().state_dict(), strict=not partial)
    return fabric.setup(model)

def test_fabric_partial_imported_in_the_test():
    assert "lightning" not in sys.modules
    build(partial=True)(torch.ones(1, 4))

def test_fabric_full():
    build(partial=False)(torch.ones(1, 4))

def test_meta_partial():
    with torch.device("meta"):
        model = Net()
    model.to_empty(device="cpu")
    model.load_state_dict(partial_state(), strict=False)
    model(torch.ones(1, 4))

def test_meta_full():
    with torch.device("meta"):
        model = Net()
    model.to_empty(device="cpu")
    model.load_state_dict(Net().state_dict())
    model(torch.ones(1, 4))

@pytest.mark.no_check_init
def test_everything_restored_after_the_tests():
    import lightning as L
    assert not getattr(vars(L.Fabric)["init_module"], "_initlint", False)
    assert not getattr(torch.nn.Module.to_empty, "_initlint", False)
    assert not any(type(f).__name__ == "_PatchOnImport" for f in sys.meta_path)
"""


@needs["lightning"]
def test_lightning_imported_inside_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LATE_FABRIC)
    result = pytester.runpytest_subprocess("--check-init", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["*test_fabric_partial_imported_in_the_test*", "*fc2 (Linear):*", "*bias*never written*"])
    assert "FAILED test_lightning_imported_inside_the_test.py::test_fabric_full" not in result.stdout.str()


@needs["lightning"]
def test_lightning_imported_inside_a_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        MODEL
        + """
import sys
import pytest

@pytest.fixture
def fabric():
    assert "lightning" not in sys.modules
    import lightning as L
    return L.Fabric(accelerator="cpu", devices=1)

def test_partial(fabric):
    with fabric.init_module(empty_init=True):
        model = Net()
    model.load_state_dict(partial_state(), strict=False)
    fabric.setup(model)(torch.ones(1, 4))
"""
    )
    result = pytester.runpytest_subprocess("--check-init")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fc2 (Linear):*", "*fc2.bias*never written*"])


@needs["lightning"]
def test_lightning_imported_by_a_helper_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        helpers=MODEL
        + """
def build_partial():
    from lightning.fabric import Fabric  # the helper's own import, during the test
    fabric = Fabric(accelerator="cpu", devices=1)
    with fabric.init_module(empty_init=True):
        model = Net()
    model.load_state_dict(partial_state(), strict=False)
    return fabric.setup(model)
"""
    )
    pytester.makepyfile(
        test_uses_helper="""
import sys
import torch

def test_partial():
    assert "lightning" not in sys.modules
    import helpers
    helpers.build_partial()(torch.ones(1, 4))
"""
    )
    result = pytester.runpytest_subprocess("--check-init")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fc2.bias*never written*"])


@needs["accelerate"]
def test_torch_and_accelerate_imported_inside_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import sys

def test_accelerate_partial():
    assert "torch" not in sys.modules and "accelerate" not in sys.modules
    import torch
    from accelerate import init_empty_weights
    with init_empty_weights():
        model = torch.nn.Linear(4, 2)
    model.load_state_dict({"weight": torch.ones(2, 4)}, strict=False, assign=True)
    model(torch.ones(1, 4))

def test_to_empty_partial():
    import torch
    with torch.device("meta"):
        model = torch.nn.Linear(4, 2)
    model.to_empty(device="cpu")
    model.load_state_dict({"weight": torch.ones(2, 4)}, strict=False)
    model(torch.ones(1, 4))

def test_accelerate_restored():
    import accelerate
    import accelerate.big_modeling
    assert accelerate.init_on_device is accelerate.big_modeling.init_on_device
"""
    )
    result = pytester.runpytest_subprocess("--check-init", "-p", "no:randomly")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(["*test_accelerate_partial*", "*still on the meta device*"])
    result.stdout.fnmatch_lines(["*test_to_empty_partial*", "*bias*never written*"])


@needs["lightning"]
@needs["xdist"]
def test_lightning_imported_inside_tests_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LATE_FABRIC.replace('    assert "lightning" not in sys.modules\n', ""))
    result = pytester.runpytest_subprocess("--check-init", "-n", "2")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["*4 models verified, 16 tensors tracked, 2 failed"])


def test_check_init_before_a_path_is_a_flag_and_the_mode_has_its_own_option(pytester: pytest.Pytester) -> None:
    """`pytest --check-init tests/` once failed with "invalid choice: 'tests/'" (issue 22)."""
    pytester.makepyfile(test_meta=TESTS)
    pytester.runpytest_subprocess("--check-init", "test_meta.py").assert_outcomes(passed=2, failed=1)
    warned = pytester.runpytest_subprocess("--check-init-mode", "warn", "test_meta.py", "-W", "always")
    warned.assert_outcomes(passed=3, warnings=1)
    pytester.runpytest_subprocess("--check-init=warn", "test_meta.py").assert_outcomes(passed=3, warnings=1)


def test_models_never_run_forward_are_counted_apart(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        MODEL
        + """
def test_built_but_never_run():
    with torch.device("meta"):
        model = Net()
    model.to_empty(device="cpu")
"""
    )
    result = pytester.runpytest_subprocess("--check-init")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["0 models verified, 0 tensors tracked, 0 failed", "1 model built empty but never run forward*"])


@pytest.mark.skipif(find_spec("transformers") is None, reason="transformers not installed")
def test_plain_from_pretrained_is_verified(pytester: pytest.Pytester) -> None:
    """The README's ScaleModel: once "0 models verified" under --check-init; transformers 5 builds the
    model on the meta device inside from_pretrained."""
    demo = Path(__file__).resolve().parents[2] / "examples" / "transformers_demo.py"
    pytester.makepyfile(
        f"""
import runpy
import torch

demo = runpy.run_path({str(demo)!r})

def test_partial_checkpoint(tmp_path):
    demo["old_checkpoint"](tmp_path)
    model = demo["ScaleModel"].from_pretrained(tmp_path)
    model(torch.ones(1, 8))
"""
    )
    result = pytester.runpytest_subprocess("--check-init")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*block.scale: never written*", "1 model verified, 3 tensors tracked, 1 failed"])
