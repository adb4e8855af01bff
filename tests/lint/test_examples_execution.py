"""The INI001/INI002 examples taken from torch_geometric, proven by execution.

Each example class is built on the meta device, ``to_empty``'d, NaN-filled, and reset the way PyG resets
(``reset_parameters()`` when the class has one); the tensors still NaN are exactly the ones its example says
(an INVALID example's finding names them, a VALID example leaves none). ``benchmarks/pyg_init_truth.py``
does the same for every class of torch_geometric.
"""

from __future__ import annotations

import math

import pytest

from initlint.lint.rules.ini001_module_without_reset_parameters import ModuleWithoutResetParameters
from initlint.lint.rules.ini002_incomplete_reset_parameters import IncompleteResetParameters

SENTINEL = -123456789  # what integer tensors hold instead of NaN
# (rule, class defined by one of its examples, valid?, build expression, tensors left NaN)
CASES = [
    (ModuleWithoutResetParameters, "class Mix(", False, "Mix(2)", {"alpha"}),
    (IncompleteResetParameters, "class Gate(", False, "Gate(learnable=False)", {"beta"}),
    (IncompleteResetParameters, "class Gate(", False, "Gate(learnable=True)", set()),
    (IncompleteResetParameters, "class Gate(", True, "Gate(learnable=False)", set()),
    (IncompleteResetParameters, "class Gate(", True, "Gate(learnable=True)", set()),
    (IncompleteResetParameters, "class Reference(", False, "Reference(3)", {"initial", "weight"}),
    (IncompleteResetParameters, "class Smooth(", False, "Smooth(3)", {"kernel_size"}),
]


def _example(rule: type, marker: str, valid: bool) -> str:
    examples = [e.code for e in (rule.VALID if valid else rule.INVALID) if marker in e.code]
    assert len(examples) == 1, (rule.code, marker, valid)
    return examples[0]


def _left_nan(code: str, build: str) -> set[str]:
    import torch

    namespace: dict[str, object] = {}
    exec(compile(code, "<example>", "exec"), namespace)  # the rule's own example, written by us
    with torch.device("meta"):
        module = eval(build, namespace)
    module.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            tensor.fill_(math.nan if tensor.is_floating_point() else SENTINEL)
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    tensors = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    return {name for name, t in tensors.items() if (t.isnan() if t.is_floating_point() else t == SENTINEL).any()}


@pytest.mark.parametrize(("rule", "marker", "valid", "build", "left"), CASES,
                         ids=[f"{c[0].code}-{c[1][6:-1]}-{'valid' if c[2] else 'invalid'}-{c[3]}" for c in CASES])
def test_example_left_nan(rule: type, marker: str, valid: bool, build: str, left: set[str]) -> None:
    pytest.importorskip("torch")
    assert _left_nan(_example(rule, marker, valid), build) == left
