"""The script-order rules of issue 20 on the shapes real scripts take: paths, hand-overs, dispatch loops."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import lint_tree


def _codes(tmp_path: Path, source: str, code: str) -> list[int]:
    return [f.line for f in lint_tree(tmp_path, {"script.py": source}, select=[code]) if f.code == code]


META = """\
import torch
from torch import nn

def build(path, rank):
    with torch.device("meta"):
        model = nn.Linear(4, 4)
    model.to_empty(device="cpu")
"""


@pytest.mark.parametrize(
    ("tail", "lines"),
    [
        # a guard that leaves: the load runs on every path that goes on
        ("    if path is None:\n        raise ValueError('no checkpoint')\n    model.load_state_dict(torch.load(path))\n", []),
        ("    if path is not None:\n        model.load_state_dict(torch.load(path))\n    else:\n        raise SystemExit\n", []),
        ("    if path is not None:\n        model.load_state_dict(torch.load(path))\n    elif rank:\n        model.reset_parameters()\n", [7]),
        ("    if path is not None:\n        model.load_state_dict(torch.load(path))\n    elif rank:\n        model.reset_parameters()\n"
         "    else:\n        model.apply(lambda m: None)\n", []),
        # rank 0 loads, then the weights are broadcast to the others
        ("    if rank == 0:\n        model.load_state_dict(torch.load(path))\n"
         "    torch.distributed.broadcast(model.weight, src=0)\n", []),
        # a loop over modules with a kind test is a dispatch, not a path
        ("    for m in model.modules():\n        if hasattr(m, 'reset_parameters'):\n            m.reset_parameters()\n", []),
        ("    if rank == 0:\n        for m in model.modules():\n            m.reset_parameters()\n", [7]),
    ],
)
def test_ini103_judges_each_path(tmp_path: Path, tail: str, lines: list[int]) -> None:
    assert _codes(tmp_path, META + tail, "INI103") == lines


FABRIC = """\
import torch
import lightning as L

def main(fabric_from_caller, path):
    fabric = L.Fabric(accelerator="cpu")
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(4, 4)
"""


@pytest.mark.parametrize(
    ("tail", "lines"),
    [
        ("    print(model(torch.ones(1, 4)))\n", [6]),
        # an imported function may load what it is given
        ("    train(fabric, model)\n", []),
        ("    optimizer = torch.optim.Adam(model.parameters())\n", [6]),
        # handed on: whoever receives it may load it
        ("    return model\n", []),
        ("    state = {'model': model}\n    fabric.load(path, state)\n", []),
        ("    fabric.load_raw(path, model)\n    train(fabric, model)\n", []),
        # built, never run: counting parameters is fine on garbage
        ("    print(sum(p.numel() for p in model.parameters()))\n", []),
        # a Fabric whose strategy is unknown may be FSDP, whose set-up resets the parameters
        ("    model = fabric_from_caller.setup(model)\n    model(torch.ones(1, 4))\n", []),
        ("    model = fabric.setup(model)\n    model(torch.ones(1, 4))\n", [6]),
        ("    model = fabric.setup(model)\n    fabric.load(path, {'model': model})\n", []),
        # a load on one path only: the other computes with garbage
        ("    model = fabric.setup(model)\n    if path:\n        fabric.load(path, {'model': model})\n"
         "    model(torch.ones(1, 4))\n", [6]),
        ("    if path:\n        fabric.load(path, {'model': model})\n    else:\n        model.apply(init_fn)\n"
         "    model(torch.ones(1, 4))\n", []),
    ],
)
def test_ini107_trusts_what_may_initialize(tmp_path: Path, tail: str, lines: list[int]) -> None:
    assert _codes(tmp_path, FABRIC + tail, "INI107") == lines


def test_ini107_reads_this_files_functions_given_the_model(tmp_path: Path) -> None:
    source = """\
import torch
import lightning as L

def train(fabric, model):
    model(torch.ones(1, 4)).sum().backward()

def finetune(fabric, model, path):
    fabric.load(path, {"model": model})
    train(fabric, model)

def main(path):
    fabric = L.Fabric(accelerator="cpu")
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(4, 4)
    train(fabric, model)
    with fabric.init_module(empty_init=True):
        other = torch.nn.Linear(4, 4)
    finetune(fabric, other, path)
"""
    assert _codes(tmp_path, source, "INI107") == [13]


def test_ini107_trusts_a_load_from_checkpoint_and_ckpt_path(tmp_path: Path) -> None:
    source = """\
import lightning as L
from my_project import Model

trainer = L.Trainer()
with trainer.init_module(empty_init=True):
    model = Model.load_from_checkpoint("last.ckpt")
trainer.fit(model)
with trainer.init_module(empty_init=True):
    other = Model()
trainer.fit(other, ckpt_path="last.ckpt")
"""
    assert _codes(tmp_path, source, "INI107") == []


def test_ini107_leaves_an_init_of_unknown_effect_inside_alone(tmp_path: Path) -> None:
    source = """\
import torch
import lightning as L
from my_project import Model, init_fn

fabric = L.Fabric(accelerator="cpu")
with fabric.init_module(empty_init=True):
    model = Model()
    model.apply(init_fn)  # imported: it may write through .data, which the context does not skip
model(torch.ones(1, 4))
"""
    assert _codes(tmp_path, source, "INI107") == []


def test_ini106_stops_where_the_model_may_be_materialized(tmp_path: Path) -> None:
    source = """\
import torch
from accelerate import init_empty_weights

def a(path):
    with init_empty_weights():
        model = torch.nn.Linear(4, 4)
    materialize(model)
    model.load_state_dict(torch.load(path))

def b(path, assign):
    with init_empty_weights():
        model = torch.nn.Linear(4, 4)
    model.load_state_dict(torch.load(path), assign=assign)

def c(path):
    with init_empty_weights():
        model = torch.nn.Linear(4, 4)
    model.load_state_dict(torch.load(path), False)
"""
    assert _codes(tmp_path, source, "INI106") == [18]


def test_ini108_ignores_buffers_forward_rebuilds(tmp_path: Path) -> None:
    source = """\
import torch
from torch import nn

class Rotary(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.register_buffer("cos", torch.ones(dim), persistent=False)

    def _build_cache(self, n):
        self.cos = torch.cos(torch.arange(n))

    def forward(self, x):
        self._build_cache(x.shape[-1])
        return x * self.cos

with torch.device("meta"):
    model = Rotary(8)
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"))
"""
    assert _codes(tmp_path, source, "INI108") == []


def test_ini108_follows_the_tree_through_this_files_classes(tmp_path: Path) -> None:
    source = """\
import torch
from torch import nn

class Rotary(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.register_buffer("inv_freq", torch.ones(dim), persistent=False)

class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.rope = Rotary(dim)
        self.proj = nn.Linear(dim, dim)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(8) for _ in range(2)])

with torch.device("meta"):
    model = Net()
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"))
"""
    found = [f for f in lint_tree(tmp_path, {"script.py": source}, select=["INI108"]) if f.code == "INI108"]
    assert [f.line for f in found] == [22] and "`Rotary.inv_freq`" in found[0].message


def test_ini110_needs_a_builtin_the_loop_misses(tmp_path: Path) -> None:
    source = """\
import torch
from torch import nn

with torch.device("meta"):
    mlp = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    transformer = nn.Transformer(d_model=8, nhead=2)
mlp.to_empty(device="cpu")
for m in mlp.modules():
    if hasattr(m, "reset_parameters"):
        m.reset_parameters()
transformer.to_empty(device="cpu")
for m in transformer.modules():
    if callable(reset := getattr(m, "reset_parameters", None)):
        reset()
"""
    assert _codes(tmp_path, source, "INI110") == [11]


def test_ini107_skip_init_and_configure_model(tmp_path: Path) -> None:
    source = """\
import torch
import lightning as L
from torch.nn.utils import skip_init

class Sharded(L.LightningModule):
    def configure_model(self):
        self.layer = torch.nn.Linear(4, 4)

layer = skip_init(torch.nn.Linear, 4, 4)
print(layer(torch.ones(1, 4)))
trainer = L.Trainer(accelerator="cpu")
with trainer.init_module(empty_init=True):
    model = Sharded()  # nothing built here: configure_model builds the layers during fit
trainer.fit(model)
"""
    assert _codes(tmp_path, source, "INI107") == [9]
