"""Init protocols across files: Hugging Face families, root init methods, and the choice between them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from initlint.cli import cli
from initlint.config import ConfigError, load_config
from initlint.lint.engine import _settings, lint_paths

from .helpers import lint_tree, write_tree

LAYERS = """\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))


class Inner(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(dim))


class Outer(nn.Module):  # builds Inner: reachable from a model that builds Outer
    def __init__(self, dim):
        super().__init__()
        self.inner = Inner(dim)
"""

MODEL = """\
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

from pkg.layers import Outer, Scale


class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, Scale):
            init.ones_(module.scale)


class TinyModel(TinyPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.scale = Scale(4)
        self.outer = Outer(4)
"""


def codes(findings) -> list[tuple[str, str, str]]:
    return sorted((Path(f.path).name, f.code, f.message.split("`")[1]) for f in findings)


def test_a_family_covers_the_classes_it_imports_and_builds(tmp_path: Path) -> None:
    files = {"pkg/__init__.py": "", "pkg/layers.py": LAYERS, "pkg/model.py": MODEL}
    found = lint_tree(tmp_path, files)
    # Scale is written by the family's branch; Inner (built by Outer) by no branch of it
    assert codes(found) == [("layers.py", "INI004", "Inner")]
    assert "`TinyPreTrainedModel._init_weights` (pkg/model.py)" in found[0].message


def test_reset_parameters_protocol_keeps_todays_findings(tmp_path: Path) -> None:
    files = {"pkg/__init__.py": "", "pkg/layers.py": LAYERS, "pkg/model.py": MODEL}
    found = lint_tree(tmp_path, files, init_protocol="reset_parameters")
    assert codes(found) == [("layers.py", "INI001", "Inner"), ("layers.py", "INI001", "Scale")]


def test_a_sub_model_is_initialized_by_its_own_family(tmp_path: Path) -> None:
    sub = MODEL.replace("Tiny", "Sub")
    outer = """\
from transformers import PreTrainedModel

from pkg.sub import SubModel


class WrapperPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        pass  # writes nothing: SubModel's modules are initialized by SubPreTrainedModel


class Wrapper(WrapperPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.sub = SubModel(config)
"""
    files = {"pkg/__init__.py": "", "pkg/layers.py": LAYERS, "pkg/sub.py": sub, "pkg/wrapper.py": outer}
    assert codes(lint_tree(tmp_path, files)) == [("layers.py", "INI004", "Inner")]


def test_class_name_tests_and_guards(tmp_path: Path) -> None:
    source = """\
import torch
from torch import nn
from transformers import PreTrainedModel


class FancyRMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.offset = nn.Parameter(torch.zeros(dim))


class Model(PreTrainedModel):
    def _init_weights(self, module):
        if "RMSNorm" in module.__class__.__name__:
            module.weight.data.fill_(1.0)
            if hasattr(module, "offset"):
                self._zero(module)

    def _zero(self, module):
        for p in (module.offset,):
            p.data.zero_()

    def __init__(self, config):
        super().__init__(config)
        self.norm = FancyRMSNorm(4)
"""
    assert codes(lint_tree(tmp_path, {"model.py": source})) == []


ROOT = """\
import torch
from torch import nn


class Gain(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(dim))
        self.shift = nn.Parameter(torch.zeros(dim))


class Token(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(dim))


def init_weights(module, name=""):
    if isinstance(module, Gain):
        nn.init.ones_(module.gain)


class Net(nn.Module):
    def __init__(self, dim=4):
        super().__init__()
        self.gain = Gain(dim)
        self.token = Token(dim)
        self.init_weights()

    def init_weights(self):
        self.apply(init_weights)
"""


def test_root_init_methods_are_opt_in(tmp_path: Path) -> None:
    assert codes(lint_tree(tmp_path, {"net.py": ROOT})) == [("net.py", "INI001", "Gain"), ("net.py", "INI001", "Token")]


def test_a_named_root_method_covers_what_its_dispatch_writes(tmp_path: Path) -> None:
    found = lint_tree(tmp_path, {"net.py": ROOT}, init_methods=("reset_parameters", "init_weights"))
    assert codes(found) == [("net.py", "INI001", "Token"), ("net.py", "INI002", "Net.init_weights()")]
    partly = next(f for f in found if f.code == "INI002")
    assert "`shift`" in partly.message and "`gain`" not in partly.message.split("never initializes")[1]


def test_named_apply_with_a_factory(tmp_path: Path) -> None:
    source = ROOT.replace("        self.apply(init_weights)", "        named_apply(get_init(), self)") + """

def get_init():
    return partial(init_weights, name="")


def named_apply(fn, module):
    fn(module)
"""
    source = "from functools import partial\n" + source
    found = lint_tree(tmp_path, {"net.py": source}, init_methods=("reset_parameters", "init_weights"))
    assert sorted(f.code for f in found) == ["INI001", "INI002"]


def test_init_protocol_is_configured_and_checked(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.initlint]\ninit-protocol = "reset_parameters"\n')
    config = load_config(tmp_path)
    assert config.init_protocol == "reset_parameters"
    assert config.with_cli(init_protocol="auto").init_protocol == "auto"
    assert _settings(config) != _settings(dataclasses.replace(config, init_protocol="auto"))  # the cache key
    (tmp_path / "pyproject.toml").write_text('[tool.initlint]\ninit-protocol = "hf"\n')
    with pytest.raises(ConfigError, match="init-protocol must be one of 'auto', 'reset_parameters'"):
        load_config(tmp_path)


def test_cli_init_protocol_overrides_the_configuration(tmp_path: Path) -> None:
    files = {"pkg/__init__.py": "", "pkg/layers.py": LAYERS, "pkg/model.py": MODEL}
    lint_tree(tmp_path, files)
    runner = CliRunner()
    auto = runner.invoke(cli, [str(tmp_path), "--no-cache", "--statistics"])
    reset = runner.invoke(cli, [str(tmp_path), "--no-cache", "--statistics", "--init-protocol", "reset_parameters"])
    assert "INI004" in auto.output and "INI001" not in auto.output
    assert "INI001" in reset.output and "INI004" not in reset.output


def test_writes_through_a_submodule_and_computed_names(tmp_path: Path) -> None:
    source = """\
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init


class Router(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n, n))


class Rotary(nn.Module):
    def __init__(self, kinds):
        super().__init__()
        for kind in kinds:
            self.register_buffer(f"{kind}_inv_freq", torch.ones(4), persistent=False)


class Moe(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.gate = Router(n)
        self.rotary = Rotary(["full"])


class Model(PreTrainedModel):
    def _init_weights(self, module):
        if isinstance(module, Moe):
            init.normal_(module.gate.weight)  # the parent's branch writes the router's weight
        elif isinstance(module, Rotary):
            for kind in ("full",):
                init.copy_(getattr(module, f"{kind}_inv_freq"), torch.ones(4))

    def __init__(self, config):
        super().__init__(config)
        self.moe = Moe(4)
"""
    assert codes(lint_tree(tmp_path, {"model.py": source})) == []


def _aged(root: Path) -> None:
    """Files older than the cache's racy window, as files are between commits."""
    old = os.stat(root).st_mtime - 60
    for path in root.rglob("*.py"):
        os.utime(path, (old, old))


def _cached(root: Path, targets: list[Path] | None = None) -> list[tuple[str, str, str]]:
    config = load_config(root)
    return codes(lint_paths(targets or [root], config, cache=True).findings)


def test_whole_and_one_file_runs_keep_each_others_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI lints the package, pre-commit the changed files alone: each judges classes under its own set of root
    files (a generation of its own), and neither throws away the class findings the other cached. (It did: a
    whole transformers run after a one-file run judged every family again, 0.3 -> 1.8 s.)"""
    from initlint.lint import cache
    from initlint.lint.cache import CACHE_DIR, SummaryCache

    monkeypatch.setattr(cache, "_RACY_NS", 0)  # files seconds old are trusted here (the window has tests of its own)
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/layers.py": LAYERS, "pkg/model.py": MODEL,
                          "pkg/util.py": "import torch\n\n\nclass Plain:\n    pass\n"})
    (tmp_path / "pyproject.toml").touch()
    _aged(tmp_path)
    alone = [tmp_path / "pkg" / name for name in ("layers.py", "model.py", "util.py")]
    config = load_config(tmp_path)
    expected = {path: codes(lint_paths([path], config).findings) for path in alone}
    assert expected[alone[0]] == [("layers.py", "INI001", "Inner"), ("layers.py", "INI001", "Scale")]  # no family
    whole = _cached(tmp_path)
    assert whole == [("layers.py", "INI004", "Inner")]
    for path in alone:
        assert _cached(tmp_path, [path]) == expected[path]
    judged: list[str] = []
    original = SummaryCache.set_class_findings
    monkeypatch.setattr(SummaryCache, "set_class_findings",
                        lambda self, path, *rest: (judged.append(path), original(self, path, *rest))[1])
    (index,) = (tmp_path / CACHE_DIR).glob("v*/index.json")
    before = (index.read_bytes(), index.stat().st_mtime_ns)
    for _ in range(2):
        assert _cached(tmp_path) == whole
        for path in alone:
            assert _cached(tmp_path, [path]) == expected[path]
    assert judged == []  # every verdict came from the cache
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before  # and nothing was written back


def test_warm_verdicts_follow_edits_of_other_files(tmp_path: Path) -> None:
    """A class's verdict reads the roots of other files and the modules between: a warm run sees an edit
    of any of them, though the class's own file is unchanged."""
    inner = LAYERS[: LAYERS.index("class Outer")]
    mid = "from torch import nn\n\nfrom pkg.layers import Inner\n\n\n" + LAYERS[LAYERS.index("class Outer"):]
    files = {"pkg/__init__.py": "", "pkg/layers.py": inner, "pkg/mid.py": mid,
             "pkg/model.py": MODEL.replace("from pkg.layers import Outer, Scale",
                                           "from pkg.layers import Scale\nfrom pkg.mid import Outer")}
    write_tree(tmp_path, files)
    (tmp_path / "pyproject.toml").touch()
    _aged(tmp_path)
    assert _cached(tmp_path) == [("layers.py", "INI004", "Inner")]
    assert _cached(tmp_path) == [("layers.py", "INI004", "Inner")]  # warm
    model = tmp_path / "pkg/model.py"  # the root writes Inner now
    model.write_text(model.read_text().replace("import Scale\n", "import Inner, Scale\n").replace(
        "init.ones_(module.scale)\n", "init.ones_(module.scale)\n        if isinstance(module, Inner):\n"
        "            init.ones_(module.gain)\n"))
    assert _cached(tmp_path) == []
    (tmp_path / "pkg/mid.py").write_text(mid.replace("self.inner = Inner(dim)", "self.inner = nn.Identity()"))
    model.write_text(files["pkg/model.py"])  # no family reaches Inner: judged by reset_parameters again
    _aged(tmp_path)
    assert _cached(tmp_path) == [("layers.py", "INI001", "Inner")]
    (tmp_path / "pkg/mid.py").write_text(mid)  # an intermediate module, no root of its own
    _aged(tmp_path)
    assert _cached(tmp_path) == _cached(tmp_path) == [("layers.py", "INI004", "Inner")]
    (tmp_path / "pkg/other.py").write_text(  # a new family that builds Scale and writes nothing of it
        "from transformers import PreTrainedModel\n\nfrom pkg.layers import Scale\n\n\n"
        "class OtherModel(PreTrainedModel):\n    def __init__(self, config):\n        super().__init__(config)\n"
        "        self.scale = Scale(4)\n\n    def _init_weights(self, module):\n        pass\n")
    found = _cached(tmp_path)
    assert found == [("layers.py", "INI004", "Inner"), ("layers.py", "INI004", "Scale")]
    assert found == codes(lint_paths([tmp_path], load_config(tmp_path)).findings)  # the same as cold


def test_explicit_base_calls_mappings_factories_and_mutators(tmp_path: Path) -> None:
    """What transformers' own files do: ``PreTrainedModel._init_weights(self, module)``, a dict of attention
    classes indexed by the config, a factory building a layer, and a function swapping layers of a sub-model
    whose family the file does not know (``replace_batch_norm(backbone)``)."""
    source = """\
import torch
from torch import nn
from transformers import AutoBackbone, PreTrainedModel


class TinyRMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))


class EagerAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.rel_pos = nn.Parameter(torch.zeros(dim))


class SdpaAttention(EagerAttention):
    pass


ATTENTION_CLASSES = {"eager": EagerAttention, "sdpa": SdpaAttention}


class Positions(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(dim))


def build_positions(dim):
    return Positions(dim)


class FrozenNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.register_buffer("running_mean", torch.zeros(dim))


def freeze_norms(model):
    for name, child in model.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(model, name, FrozenNorm(child.num_features))


class TinyModel(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.norm = TinyRMSNorm(4)
        self.attention = ATTENTION_CLASSES[config.impl](4)
        self.positions = build_positions(4)
        backbone = AutoBackbone.from_config(config.backbone)
        freeze_norms(backbone)
        self.backbone = backbone

    def _init_weights(self, module):
        PreTrainedModel._init_weights(self, module)  # the base class's default: RMSNorm by name
        if isinstance(module, EagerAttention):
            module.rel_pos.data.zero_()


class OtherModel(PreTrainedModel):  # a second family of the file: it judges only what its own tree builds
    def _init_weights(self, module):
        pass
"""
    found = lint_tree(tmp_path, {"model.py": source})
    # TinyRMSNorm: the base default; both attention classes: their branch; Positions: joins the tree through
    # the factory and no branch writes it; FrozenNorm: in the backbone, whose _init_weights is not known here
    assert codes(found) == [("model.py", "INI004", "Positions")]


def test_dicts_of_classes_of_another_module(tmp_path: Path) -> None:
    """transformers' ``ACT2CLS``/``ACT2FN``: an activation with parameters joins every tree that picks it."""
    activations = """\
import torch
from torch import nn


class Gelu(nn.Module):
    pass


class Xielu(nn.Module):
    def __init__(self):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1))


class Instantier(dict):
    def __getitem__(self, key):
        return super().__getitem__(key)()


ACT2CLS = {"gelu": Gelu, "xielu": (Xielu, {})}
ACT2FN = Instantier(ACT2CLS)
"""
    model = """\
from torch import nn
from transformers import PreTrainedModel

from pkg.activations import ACT2CLS, ACT2FN


class Mlp(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.act = ACT2FN[config.act] if config.act != "xielu" else ACT2CLS["xielu"]()


class TinyModel(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.mlp = Mlp(config)
"""
    files = {"pkg/__init__.py": "", "pkg/activations.py": activations, "pkg/model.py": model}
    assert codes(lint_tree(tmp_path, files)) == [("activations.py", "INI004", "Xielu")]


def test_a_warm_run_judges_nothing_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cold and warm runs see the same roots, though a file the cold run parsed only for a base class (no
    rule applies to it) then holds classes: the warm run reuses every verdict."""
    mixin = "from transformers.modeling_utils import ModuleUtilsMixin\n\n\nclass Mixin(ModuleUtilsMixin):\n    pass\n"
    model = MODEL.replace("from pkg.layers import Outer, Scale", "from pkg.layers import Outer, Scale\nfrom pkg.mixin import Mixin")
    model += "\n\nclass Gate(Mixin, nn.Module):\n    def __init__(self):\n        super().__init__()\n" \
             "        self.gate = nn.Parameter(torch.ones(1))\n"
    model = "import torch\n" + model
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/layers.py": LAYERS, "pkg/mixin.py": mixin, "pkg/model.py": model})
    (tmp_path / "pyproject.toml").touch()
    _aged(tmp_path)
    cold = _cached(tmp_path)
    assert cold == [("layers.py", "INI004", "Inner")]

    def judged_again(*args: object) -> None:
        raise AssertionError("a warm run judged a class again")

    from initlint.lint.protocols.judge import Protocols

    monkeypatch.setattr(Protocols, "verdict", judged_again)
    assert _cached(tmp_path) == cold


def test_a_modular_file_judges_only_its_own_classes(tmp_path: Path) -> None:
    """transformers' ``modular_*.py`` files are generation sources, never imported: a family there that
    builds another model's classes does not judge them."""
    modular = """\
from transformers import PreTrainedModel

from pkg.layers import Scale


class XModel(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.scale = Scale(4)

    def _init_weights(self, module):
        pass
"""
    files = {"pkg/__init__.py": "", "pkg/layers.py": LAYERS, "pkg/model.py": MODEL, "pkg/modular_x.py": modular}
    assert codes(lint_tree(tmp_path, files)) == [("layers.py", "INI004", "Inner")]
    files["pkg/x.py"] = modular  # the same family in a module that is imported judges them
    assert codes(lint_tree(tmp_path, files)) == [("layers.py", "INI004", "Inner"), ("layers.py", "INI004", "Scale")]


DIAMOND = """\
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

from pkg.layers import Scale


class BasePreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        pass  # writes nothing


class LeftPreTrainedModel(BasePreTrainedModel):
    pass


class RightPreTrainedModel(BasePreTrainedModel):
    def _init_weights(self, module):
        if isinstance(module, Scale):
            init.ones_(module.scale)


class DiamondModel(LeftPreTrainedModel, RightPreTrainedModel):  # __mro__: Diamond, Left, Right, Base
    def __init__(self, config):
        super().__init__(config)
        self.scale = Scale(4)
"""


def test_a_diamond_runs_the_init_weights_python_would(tmp_path: Path) -> None:
    # depth-first, Left would reach the no-op of BasePreTrainedModel first; in C3 order (Python) Right comes first
    layers = LAYERS[:LAYERS.index("class Inner")]
    files = {"pkg/__init__.py": "", "pkg/layers.py": layers, "pkg/model.py": DIAMOND}
    assert codes(lint_tree(tmp_path, files)) == []
    swapped = DIAMOND.replace("def _init_weights(self, module):\n        if", "def _other(self, module):\n        if")
    assert codes(lint_tree(tmp_path, {**files, "pkg/model.py": swapped})) == [("layers.py", "INI004", "Scale")]


def test_c3_is_the_order_python_computes() -> None:
    from initlint.lint.index import c3_merge

    class O: ...
    class A(O): ...
    class B(O): ...
    class C(O): ...
    class D(O): ...
    class E(O): ...
    class K1(A, B, C): ...
    class K2(D, B, E): ...
    class K3(D, A): ...
    class Z(K1, K2, K3): ...

    def linearize(cls: type) -> list[type]:
        parents = [b for b in cls.__bases__ if b is not object]
        return c3_merge(cls, parents, [linearize(p) for p in parents])

    assert linearize(Z) == [c for c in Z.__mro__ if c is not object]


MMENGINE = """\
import torch
from torch import nn
from mmengine.model import BaseModule


class Head(BaseModule):
    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)
        self.scale = nn.Parameter(torch.empty(4))
        self.offset = nn.Parameter(torch.empty(4))

    def init_weights(self):
        super().init_weights()
        nn.init.ones_(self.scale)


class Neck(BaseModule):
    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.empty(4))
"""


def test_mmengine_base_module_needs_only_its_init_method(tmp_path: Path) -> None:
    # mmengine's runner calls init_weights(), not reset_parameters(): by default its classes are not judged
    assert lint_tree(tmp_path, {"heads.py": MMENGINE}) == []
    found = lint_tree(tmp_path, {"heads.py": MMENGINE}, init_methods=("init_weights",))
    messages = {("Head" if "`Head`" in f.message else "Neck"): (f.code, f.message) for f in found}
    assert sorted(messages) == ["Head", "Neck"], found
    assert messages["Head"][0] == "INI002" and "`offset`" in messages["Head"][1]
    # INI001 names the configured method, not reset_parameters
    assert messages["Neck"][0] == "INI001" and "defines no `init_weights()`" in messages["Neck"][1]
    assert "Add an `init_weights()`" in messages["Neck"][1] and "reset_parameters" not in messages["Neck"][1]


def test_ini002_speaks_of_several_tensors_in_the_plural(tmp_path: Path) -> None:
    source = """\
import torch
from torch import nn


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.empty(4))
        self.b = nn.Parameter(torch.empty(4))
        self.c = nn.Parameter(torch.empty(4))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.ones_(self.a)
"""
    (finding,) = lint_tree(tmp_path, {"pair.py": source})
    assert "they keep uninitialized memory. Initialize them in `reset_parameters()`" in finding.message
    both = source.replace("nn.init.ones_(self.a)", "nn.init.ones_(self.a)\n        nn.init.ones_(self.b)")
    (finding,) = lint_tree(tmp_path, {"pair.py": both})
    assert "it keeps uninitialized memory. Initialize it in" in finding.message


def _as_user_code(relative: str) -> str:
    """A module of the installed transformers, with its relative imports made absolute: how a project
    that copies a model (or writes one like it) holds it, with transformers outside the project."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("transformers")
    if spec is None or spec.origin is None:
        pytest.skip("transformers is not installed")
    package = relative.rpartition("/")[0].replace("/", ".")
    text = (Path(spec.origin).parent / relative).read_text(encoding="utf-8")
    text = re.sub(r"^(\s*)from \.\.\. import", r"\1from transformers import", text, flags=re.M)
    text = re.sub(r"^(\s*)from \.\.\.", r"\1from transformers.", text, flags=re.M)
    return re.sub(r"^(\s*)from \.", rf"\1from transformers.{package}.", text, flags=re.M)


def test_a_model_class_owns_tensors_too(tmp_path: Path) -> None:
    # transformers 5.24's CLIPModel creates `logit_scale` itself, and no branch of CLIPPreTrainedModel's
    # _init_weights writes it: built on meta, NaN-filled, `_initialize_missing_keys` leaves it NaN
    source = _as_user_code("models/clip/modeling_clip.py")
    found = lint_tree(tmp_path, {"myclip/__init__.py": "", "myclip/modeling_clip.py": source})
    assert [(f.code, f.message.split("`")[1]) for f in found] == [("INI004", "CLIPModel")], found
    assert "parameter `logit_scale`" in found[0].message
    # a branch for the model class quiets it
    fixed = source.replace(
        "        elif isinstance(module, CLIPModel):\n",
        "        elif isinstance(module, CLIPModel):\n            init.constant_(module.logit_scale, 2.6592)\n")
    assert lint_tree(tmp_path, {"myclip/modeling_clip.py": fixed}) == []


def test_a_parameter_list_filled_by_append(tmp_path: Path) -> None:
    # transformers 5.24's AxialPositionEmbeddings fills `self.weights = nn.ParameterList()` with append;
    # ReformerPreTrainedModel._init_weights writes each member (`for weight in module.weights: init.normal_`):
    # executed, nothing stays NaN. Without that loop the list is left unwritten, and INI004 says so.
    source = _as_user_code("models/reformer/modeling_reformer.py")
    files = {"myreformer/__init__.py": "", "myreformer/modeling_reformer.py": source}
    assert not [f for f in lint_tree(tmp_path, files) if "AxialPositionEmbeddings" in f.message]
    loop = "            for weight in module.weights:\n"
    forgotten = source.replace(loop, loop.replace("module.weights", "()"))
    assert forgotten != source
    found = [f for f in lint_tree(tmp_path, {**files, "myreformer/modeling_reformer.py": forgotten})
             if "`AxialPositionEmbeddings`" in f.message]
    assert len(found) == 1 and "parameter `weights`" in found[0].message, found


def test_torch_built_ins_a_family_leaves_unwritten(tmp_path: Path) -> None:
    # transformers 5.24, executed (built on meta, NaN-filled, `_initialize_missing_keys`): RegNetPreTrainedModel's
    # _init_weights writes a Conv2d's weight only, so the biases of RegNetSELayer's two convolutions stay NaN
    source = _as_user_code("models/regnet/modeling_regnet.py")
    files = {"myregnet/__init__.py": "", "myregnet/modeling_regnet.py": source}
    found = [f for f in lint_tree(tmp_path, files) if f.code == "INI004"]
    assert [f.message.split("`")[1] for f in found] == ["RegNetSELayer"], found
    assert "`nn.Conv2d` `attention.0` (parameter `attention.0.bias`)" in found[0].message
    assert "`nn.Conv2d` `attention.2` (parameter `attention.2.bias`)" in found[0].message
    # the other convolutions are built with bias=False: nothing left
    branch = '            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")\n'
    fixed = source.replace(branch, branch + "            if module.bias is not None:\n"
                                            "                init.zeros_(module.bias)\n")
    assert fixed != source
    assert not [f for f in lint_tree(tmp_path, {**files, "myregnet/modeling_regnet.py": fixed}) if f.code == "INI004"]


def test_weight_norm_turns_a_write_of_weight_into_nothing(tmp_path: Path) -> None:
    # transformers 5.24's Wav2Vec2PositionalConvEmbedding wraps its Conv1d in weight_norm (the parametrizations one);
    # Wav2Vec2PreTrainedModel._init_weights writes `module.conv.weight`, a tensor computed from
    # `conv.parametrizations.weight.original0`/`original1`, which stay NaN when executed
    source = _as_user_code("models/wav2vec2/modeling_wav2vec2.py")
    found = [f for f in lint_tree(tmp_path, {"mywav/__init__.py": "", "mywav/modeling_wav2vec2.py": source})
             if f.code == "INI004" and "`Wav2Vec2PositionalConvEmbedding`" in f.message]
    assert len(found) == 1, found
    assert ("(parameter `conv.parametrizations.weight.original0`, parameter `conv.parametrizations.weight.original1`)"
            in found[0].message)
    assert "`conv.bias`" not in found[0].message  # written by the same branch, and a plain parameter


def test_a_no_op_override_leaves_the_layers_it_adds(tmp_path: Path) -> None:
    # a subclass of transformers 5.24's BertPreTrainedModel that overrides _init_weights with `pass` and adds an
    # MLP head: executed, the head stays NaN; BertModel inside is a sub-model, initialized by its own family
    source = _as_user_code("models/bert/modeling_bert.py")
    head = (
        "from torch import nn\n\nfrom .modeling_bert import BertModel, BertPreTrainedModel\n\n\n"
        "class BertWithMLP(BertPreTrainedModel):\n"
        "    def __init__(self, config):\n"
        "        super().__init__(config)\n"
        "        self.bert = BertModel(config)\n"
        "        self.mlp = nn.Sequential(nn.Linear(config.hidden_size, 8), nn.ReLU(), nn.Linear(8, 2))\n\n"
        "    def _init_weights(self, module):\n"
        "        pass\n"
    )
    files = {"mybert/__init__.py": "", "mybert/modeling_bert.py": source, "mybert/head.py": head}
    found = [f for f in lint_tree(tmp_path, files) if f.code == "INI004"]
    assert [(Path(f.path).name, f.message.split("`")[1]) for f in found] == [("head.py", "BertWithMLP")], found
    assert "`nn.Linear` `mlp.0` (parameter `mlp.0.bias`, parameter `mlp.0.weight`)" in found[0].message
    assert "which `BertWithMLP._init_weights`" in found[0].message


def test_a_method_that_returns_once_a_child_is_initialized_writes_nothing(tmp_path: Path) -> None:
    # transformers 5.24's ViTMAEEmbeddings.initialize_weights returns first thing when
    # `patch_embeddings.projection` is marked `_is_hf_initialized`, as transformers marks every child before its
    # parent: executed, `cls_token` and `position_embeddings` stay NaN
    source = _as_user_code("models/vit_mae/modeling_vit_mae.py")
    found = [f for f in lint_tree(tmp_path, {"mymae/__init__.py": "", "mymae/modeling_vit_mae.py": source})
             if f.code == "INI004" and "`ViTMAEEmbeddings`" in f.message]
    assert len(found) == 1 and "parameter `cls_token`, parameter `position_embeddings`" in found[0].message, found
    assert "`initialize_weights()` writes nothing there" in found[0].message
    guard = '        if getattr(self.patch_embeddings.projection, "_is_hf_initialized", False):\n            return\n'
    assert guard in source
    unguarded = source.replace(guard, "")
    assert not [f for f in lint_tree(tmp_path, {"mymae/modeling_vit_mae.py": unguarded})
                if "`ViTMAEEmbeddings`" in f.message]


def test_built_ins_reached_through_a_local_name(tmp_path: Path) -> None:
    # transformers 5.24's VitsWaveNet: `in_layer = nn.Conv1d(...)`, `in_layer = weight_norm(in_layer)`,
    # `self.in_layers.append(in_layer)`; executed, every `in_layers.<i>.parametrizations.weight.original0/1` stays NaN
    source = _as_user_code("models/vits/modeling_vits.py")
    found = [f for f in lint_tree(tmp_path, {"myvits/__init__.py": "", "myvits/modeling_vits.py": source})
             if f.code == "INI004" and "`VitsWaveNet`" in f.message]
    assert len(found) == 1, found
    for path in ("in_layers.*", "res_skip_layers.*", "cond_layer"):
        assert f"`nn.Conv1d` `{path}` (parameter `{path}.parametrizations.weight.original0`" in found[0].message
