"""INI001/INI002 against execution on torch_geometric: which tensors does PyG's ``reset_parameters()`` leave unwritten?

PyG's init protocol is ``reset_parameters()``: every layer defines one, and a model's calls its children's (often
through ``torch_geometric.nn.inits.reset``). For every ``nn.Module`` class defined in ``torch_geometric.nn`` this
script guesses small constructor arguments from their names (``in_channels=8``, ``num_relations=3``, ...; the classes
whose arguments cannot be guessed take theirs from ``CONSTRUCTORS``, or are skipped and counted), builds the class
on the meta device, ``to_empty``s it, fills every tensor with NaN (integer tensors with a sentinel), calls its
``reset_parameters()`` (nothing when it has none) and records each tensor the class registers itself
(``recurse=False``) that still holds NaN/the sentinel, as ``(file, class, attribute)`` where ``class`` is the nearest
class of the MRO whose source creates the attribute. Children are judged when their own class is built.

Then it lints the same torch_geometric (default configuration) and scores the tensors INI001/INI002 name against
that truth: TP/FP/FN, precision, recall, and every disagreement. Only (class, tensor) pairs that some execution
instantiated are scored.

PyG imports with the project's venv plus two small packages (``scipy``-based DimeNet utilities are skipped)::

    pip install --no-deps --target /tmp/pyglib torch-geometric==2.8.1 xxhash pyparsing

Usage::

    PYTHONPATH=/tmp/pyglib python benchmarks/pyg_init_truth.py          # ~1 min on 2 CPUs
    PYTHONPATH=/tmp/pyglib python benchmarks/pyg_init_truth.py --only GATConv,RGATConv --verbose
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import importlib.util
import inspect
import math
import os
import pkgutil
import signal
import sys
import time
import warnings
from pathlib import Path

from timm_init_truth import SENTINEL, _owner, pairs, parse

# arguments guessed from their names, for every class that takes them (small sizes: the builds are cheap)
GUESSES: dict[str, object] = {
    "in_channels": 8, "out_channels": 8, "hidden_channels": 8, "channels": 8, "num_layers": 2,
    "num_relations": 3, "num_nodes": 10, "num_radial": 4, "num_spherical": 3, "cutoff": 5.0, "k": 2, "K": 2,
    "num_heads": 2, "heads": 2, "edge_dim": 4, "dim": 2, "kernel_size": 3, "num_types": 3, "alpha": 0.1,
    "hidden_node_channels": 8, "hidden_edge_channels": 8, "dropout": 0.0, "embedding_dim": 8, "num_filters": 8,
    "raw_msg_dim": 4, "memory_dim": 8, "time_dim": 4, "num_rbf": 4, "num_bilinear": 4, "num_before_skip": 1,
    "num_after_skip": 1, "int_emb_size": 8, "basis_emb_size": 8, "out_emb_channels": 8, "num_blocks": 1,
    "walk_length": 4, "context_size": 2, "processing_steps": 2, "num_induced_points": 2, "num_cols": 3,
    "input_dim": 8, "hidden_dim": 8, "output_dim": 8, "space_dimensions": 2, "propagate_dimensions": 2,
    "num_node_types": 3, "num_edge_types": 3, "edge_type_emb_dim": 4, "edge_attr_emb_dim": 4, "filter_size": 4,
    "num_timesteps": 2, "num_correction_layers": 1, "correction_alpha": 0.5, "num_smoothing_layers": 1,
    "smoothing_alpha": 0.5, "exponent": 2.0, "dim_in": 8, "dim_out": 8, "num_node_targets": 2,
    "num_graph_targets": 2, "layers_post_mp": 1, "dim_emb": 8, "dim_pe_in": 4, "dim_pe_out": 4,
    "time_window": 2, "num_tokens": 5, "time_channels": 4, "depth": 2, "node_dim": 8, "hid_channels": 8,
    "num_classes": 3, "num_rels": 3, "seq_len": 4, "num_gaussians": 4, "groups": 2, "num_clusters": 2,
    "num_bases": 2, "trainable": True, "q": 0.5, "max_num_elements": 4, "patch_size": 2, "has_batch_norm": True,
    "has_l2_norm": True, "bias": True, "vecnorm_type": None, "trainable_vecnorm": False, "aggr": "add",
    "aggrs": ["sum", "mean"], "mode": "cat", "first_aggr": True,
}
def _zeros(*shape):
    import torch

    return torch.zeros(*shape)


# module-valued arguments, built fresh for each class
MODULE_GUESSES = ("nn", "gate_nn", "mlp_h", "mlp_f", "mlp_g", "module", "encoder", "discriminator", "local_nn",
                  "global_nn", "conv")
# builds that make tensors only an option creates: (class name, keyword arguments added to the guessed ones)
VARIANTS = (
    ("AGNNConv", {"requires_grad": False}),  # `beta` becomes a buffer, created and reset under `requires_grad`
    ("MessageNorm", {"learn_scale": True}),
    ("GATConv", {"edge_dim": 4}), ("GATv2Conv", {"edge_dim": 4, "share_weights": True}),
    ("TransformerConv", {"edge_dim": 4, "beta": True}),
    ("GENConv", {"learn_t": True, "learn_p": True, "learn_msg_scale": True, "edge_dim": 4}),
    ("LayerNorm", {"mode": "node"}), ("GraphNorm", {}), ("BatchNorm", {"allow_single_element": True}),
    ("HypergraphConv", {"use_attention": True, "heads": 2}),
    ("RGCNConv", {"num_bases": 2}), ("RGCNConv", {"num_blocks": 2}),
    ("FiLMConv", {"num_relations": 2}), ("ResGatedGraphConv", {"edge_dim": 4}),
    ("SchNet", {"dipole": True}),  # `atomic_mass`
    ("SchNet", {"atomref": functools.partial(_zeros, 100, 1)}),  # `initial_atomref`, the caller's tensor
    ("Atomref", {"atomref": functools.partial(_zeros, 100)}),
    ("GeneralConv", {"attention": True, "attention_type": "dot_product"}),  # `scaler`
)


def _mlp():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8))


def _conv():
    from torch_geometric.nn import GCNConv

    return GCNConv(8, 8)


def constructors() -> dict[str, object]:
    """Classes whose arguments cannot be guessed from their names: qualified name -> a callable building it."""
    import torch
    from torch_geometric import nn as pyg

    def meta():
        return (["paper", "author"], [("paper", "cites", "paper"), ("author", "writes", "paper")])

    return {
        "torch_geometric.nn.conv.gin_conv.GINConv": lambda: pyg.GINConv(_mlp()),
        "torch_geometric.nn.conv.gin_conv.GINEConv": lambda: pyg.GINEConv(_mlp(), edge_dim=4),
        "torch_geometric.nn.conv.nn_conv.NNConv": lambda: pyg.NNConv(8, 8, torch.nn.Linear(4, 64)),
        "torch_geometric.nn.conv.edge_conv.EdgeConv": lambda: pyg.EdgeConv(_mlp()),
        "torch_geometric.nn.conv.edge_conv.DynamicEdgeConv": lambda: pyg.DynamicEdgeConv(_mlp(), k=2),
        "torch_geometric.nn.conv.point_conv.PointNetConv": lambda: pyg.PointNetConv(_mlp(), _mlp()),
        "torch_geometric.nn.conv.ppf_conv.PPFConv": lambda: pyg.PPFConv(_mlp(), _mlp()),
        "torch_geometric.nn.conv.x_conv.XConv": lambda: pyg.XConv(8, 8, dim=2, kernel_size=3),
        "torch_geometric.nn.conv.pna_conv.PNAConv": lambda: pyg.PNAConv(
            8, 8, ["mean", "max"], ["identity", "amplification"], deg=torch.tensor([0, 2, 3]), edge_dim=4),
        "torch_geometric.nn.conv.gravnet_conv.GravNetConv": lambda: pyg.GravNetConv(8, 8, 2, 4, k=2),
        "torch_geometric.nn.conv.hetero_conv.HeteroConv": lambda: pyg.HeteroConv(
            {("a", "to", "b"): pyg.SAGEConv(8, 8)}),
        "torch_geometric.nn.conv.han_conv.HANConv": lambda: pyg.HANConv(8, 8, metadata=meta()),
        "torch_geometric.nn.conv.hgt_conv.HGTConv": lambda: pyg.HGTConv(8, 8, metadata=meta(), heads=2),
        "torch_geometric.nn.conv.general_conv.GeneralConv": lambda: pyg.GeneralConv(
            8, 8, in_edge_channels=4, attention=True),
        "torch_geometric.nn.conv.rgat_conv.RGATConv": lambda: pyg.RGATConv(
            8, 8, num_relations=3, num_bases=2, edge_dim=4),
        "torch_geometric.nn.conv.spline_conv.SplineConv": lambda: pyg.SplineConv(8, 8, dim=2, kernel_size=3),
        "torch_geometric.nn.conv.pdn_conv.PDNConv": lambda: pyg.PDNConv(8, 8, edge_dim=4, hidden_channels=8),
        "torch_geometric.nn.aggr.multi.MultiAggregation": lambda: pyg.aggr.MultiAggregation(["sum", "mean"]),
        "torch_geometric.nn.aggr.quantile.QuantileAggregation": lambda: pyg.aggr.QuantileAggregation([0.25, 0.75]),
        "torch_geometric.nn.aggr.gmt.GraphMultisetTransformer": lambda: pyg.aggr.GraphMultisetTransformer(8, k=2),
        "torch_geometric.nn.models.deep_graph_infomax.DeepGraphInfomax": lambda: pyg.DeepGraphInfomax(
            8, encoder=_mlp(), summary=lambda z, *a, **k: z.mean(0), corruption=lambda x: x),
        "torch_geometric.nn.models.autoencoder.GAE": lambda: pyg.GAE(_mlp()),
        "torch_geometric.nn.models.autoencoder.VGAE": lambda: pyg.VGAE(_mlp()),
        "torch_geometric.nn.models.autoencoder.ARGA": lambda: pyg.ARGA(_mlp(), _mlp()),
        "torch_geometric.nn.models.autoencoder.ARGVA": lambda: pyg.ARGVA(_mlp(), _mlp()),
        "torch_geometric.nn.models.metapath2vec.MetaPath2Vec": lambda: pyg.MetaPath2Vec(
            {("a", "to", "b"): torch.tensor([[0, 1], [1, 0]]), ("b", "to", "a"): torch.tensor([[0, 1], [1, 0]])},
            embedding_dim=8, metapath=[("a", "to", "b"), ("b", "to", "a")], walk_length=2, context_size=2),
        "torch_geometric.nn.models.mlp.MLP": lambda: pyg.MLP([8, 8, 8]),
        "torch_geometric.nn.conv.gen_conv.MLP": lambda: pyg.conv.gen_conv.MLP([8, 8, 8]),
        "torch_geometric.nn.aggr.mlp.MLPAggregation": lambda: pyg.aggr.MLPAggregation(8, 8, 4, num_layers=1),
        "torch_geometric.nn.aggr.equilibrium.ResNetPotential": lambda: pyg.aggr.equilibrium.ResNetPotential(8, 1, [8]),
        "torch_geometric.nn.aggr.equilibrium.EquilibriumAggregation": lambda: pyg.aggr.EquilibriumAggregation(
            8, 8, [8]),
        "torch_geometric.nn.aggr.scaler.DegreeScalerAggregation": lambda: pyg.aggr.DegreeScalerAggregation(
            "mean", "identity", deg=torch.tensor([0, 2, 3]), train_norm=True),
        "torch_geometric.nn.aggr.attention.AttentionalAggregation": lambda: pyg.aggr.AttentionalAggregation(
            torch.nn.Linear(8, 1), _mlp()),
        "torch_geometric.nn.conv.fused_gat_conv.FusedGATConv": lambda: pyg.conv.FusedGATConv(8, 8),
        "torch_geometric.nn.conv.dir_gnn_conv.DirGNNConv": lambda: pyg.DirGNNConv(_conv()),
        "torch_geometric.nn.conv.gps_conv.GPSConv": lambda: pyg.GPSConv(8, _conv(), heads=2),
        "torch_geometric.nn.conv.point_gnn_conv.PointGNNConv": lambda: pyg.PointGNNConv(_mlp(), _mlp(), _mlp()),
        "torch_geometric.nn.dense.dense_gin_conv.DenseGINConv": lambda: pyg.DenseGINConv(_mlp(), train_eps=True),
        "torch_geometric.nn.dense.linear.HeteroDictLinear": lambda: pyg.HeteroDictLinear(8, 8, types=["a", "b"]),
        "torch_geometric.nn.models.basic_gnn.PNA": lambda: pyg.models.PNA(
            8, 8, 2, aggregators=["mean"], scalers=["identity"], deg=torch.tensor([0, 2, 3])),
        "torch_geometric.nn.models.node2vec.Node2Vec": lambda: pyg.Node2Vec(
            torch.tensor([[0, 1], [1, 0]]), embedding_dim=8, walk_length=2, context_size=2),
        "torch_geometric.nn.models.jumping_knowledge.HeteroJumpingKnowledge": lambda: pyg.HeteroJumpingKnowledge(
            ["a", "b"], "lstm", channels=8, num_layers=2),
        "torch_geometric.nn.models.rev_gnn.GroupAddRev": lambda: pyg.GroupAddRev(pyg.GCNConv(4, 4), num_groups=2),
        "torch_geometric.nn.models.schnet.CFConv": lambda: pyg.models.schnet.CFConv(8, 8, 8, _mlp(), 5.0),
        "torch_geometric.nn.models.dimenet.EmbeddingBlock": lambda: pyg.models.dimenet.EmbeddingBlock(
            4, 8, torch.nn.SiLU()),
        "torch_geometric.nn.models.dimenet.ResidualLayer": lambda: pyg.models.dimenet.ResidualLayer(
            8, torch.nn.SiLU()),
        "torch_geometric.nn.models.dimenet.InteractionBlock": lambda: pyg.models.dimenet.InteractionBlock(
            8, 4, 3, 4, 1, 1, torch.nn.SiLU()),
        "torch_geometric.nn.models.dimenet.InteractionPPBlock": lambda: pyg.models.dimenet.InteractionPPBlock(
            8, 8, 8, 3, 4, 1, 1, torch.nn.SiLU()),
        "torch_geometric.nn.models.dimenet.OutputBlock": lambda: pyg.models.dimenet.OutputBlock(
            4, 8, 8, 2, torch.nn.SiLU()),
        "torch_geometric.nn.models.dimenet.OutputPPBlock": lambda: pyg.models.dimenet.OutputPPBlock(
            4, 8, 8, 8, 2, torch.nn.SiLU()),
        "torch_geometric.nn.to_hetero_module.ToHeteroLinear": lambda: pyg.to_hetero_module.ToHeteroLinear(
            pyg.Linear(8, 8), ["a", "b"]),
        "torch_geometric.nn.models.tgn.TGNMemory": lambda: pyg.TGNMemory(
            10, 4, 8, 4, pyg.models.tgn.IdentityMessage(4, 8, 4), pyg.models.tgn.LastAggregator()),
    }


def _arguments(cls) -> dict[str, object] | None:
    """Guessed keyword arguments for ``cls``'s required parameters; None when one has no guess."""
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    kwargs = {}
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not inspect.Parameter.empty:
            continue
        if p.name in MODULE_GUESSES:
            kwargs[p.name] = _conv() if p.name == "conv" else _mlp()
        elif p.name in GUESSES:
            kwargs[p.name] = GUESSES[p.name]
        else:
            return None
    return kwargs


def classes() -> dict[str, type]:
    """Every ``nn.Module`` class defined in a module of ``torch_geometric.nn`` (qualified name -> class)."""
    import torch
    import torch_geometric.nn

    found, failed = {}, []
    for info in pkgutil.walk_packages(torch_geometric.nn.__path__, "torch_geometric.nn."):
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:  # noqa: BLE001 - an optional dependency (scipy, sympy): counted, not fatal
            failed.append(f"{info.name} ({type(exc).__name__}: {str(exc)[:60]})")
            continue
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, torch.nn.Module) and value.__module__ == info.name
                    and not inspect.isabstract(value)):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    for line in failed:
        print(f"not imported: {line}")
    return found


def _poison(model) -> None:
    import torch

    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point() or tensor.is_complex():
                tensor.fill_(math.nan)
            elif tensor.dtype != torch.bool:
                tensor.fill_(SENTINEL if tensor.dtype in (torch.int32, torch.int64) else -1)


def _left(tensor) -> bool:
    import torch

    if tensor.is_floating_point() or tensor.is_complex():
        return bool(torch.isnan(tensor).any())
    return bool((tensor == (SENTINEL if tensor.dtype in (torch.int32, torch.int64) else -1)).any())


def execute(name: str, cls: type, build, site: Path) -> dict:
    """Build ``cls`` on meta, ``to_empty``, poison, ``reset_parameters()`` and read back its own tensors."""
    import torch

    try:
        with torch.device("meta"):
            model = build()
    except (NotImplementedError, RuntimeError):  # `__init__` reads a tensor's values (`.item()`, `.tolist()`)
        model = build()  # on the CPU: every tensor is replaced and poisoned below all the same
    if next(iter(model.parameters()), None) is None and next(iter(model.buffers()), None) is None:
        return {"class": name, "skipped": "no tensors"}
    # a tensor the caller passed in and the class registers as it is: the caller's to initialize, not the class's
    passed = {a for a, t in [*model.named_parameters(recurse=False), *model.named_buffers(recurse=False)]
              if any(t is p for p in _PASSED)}
    _PASSED.clear()
    model.to_empty(device="cpu")
    _poison(model)
    reset = getattr(model, "reset_parameters", None)
    if callable(reset):
        with torch.no_grad():
            reset()
    scope, unwritten = set(), set()
    for attribute, tensor in [*model.named_parameters(recurse=False), *model.named_buffers(recurse=False)]:
        if tensor is None or tensor.dtype == torch.bool or tensor.numel() == 0 or attribute in passed:
            continue
        where = (*_owner(type(model), attribute, site), attribute)
        scope.add(where)
        if _left(tensor):
            unwritten.add(where)
    return {"class": name, "scope": sorted(scope), "unwritten": sorted(unwritten),
            "reset": callable(reset)}


_PASSED: list = []  # the tensors the last variant build passed to its class


def _variant(cls, kwargs: dict):
    values = {k: v() if isinstance(v, functools.partial) else v for k, v in kwargs.items()}
    _PASSED[:] = [v for v in values.values() if type(v).__name__ == "Tensor"]
    return cls(**values)


def builds(selected: dict[str, type]) -> list[tuple[str, type, object]]:
    """(name, class, zero-argument builder) for every class, then ``VARIANTS``; a class without one is skipped."""
    table = constructors()
    out = []
    for name, cls in sorted(selected.items()):
        build = table.get(name)
        kwargs = _arguments(cls)
        if build is None and kwargs is not None:
            build = lambda cls=cls, kwargs=kwargs: cls(**kwargs)  # noqa: E731
        out.append((name, cls, build))
        for short, extra in VARIANTS:
            if short == cls.__name__ and kwargs is not None:
                label = f"{name}[{','.join(extra)}]"
                out.append((label, cls, functools.partial(_variant, cls, {**kwargs, **extra})))
    return out


def run(selected: dict[str, type], site: Path, timeout: int) -> list[dict]:
    """Execute every build (one process: each is small), with a time limit per build."""
    import torch
    import torch_geometric.typing

    torch.set_num_threads(1)
    # pyg-lib's kernels are needed by forward() only: let the layers that check for them in __init__ build
    torch_geometric.typing.WITH_SPLINE = torch_geometric.typing.WITH_KNN = True
    spline_conv = importlib.import_module("torch_geometric.nn.conv.spline_conv")
    spline_conv.spline_basis = spline_conv.spline_basis or (lambda *args: None)
    if importlib.util.find_spec("ase") is None:  # SchNet(dipole=True) reads ase's table of atomic masses only
        import types

        import numpy

        ase = sys.modules["ase"] = types.ModuleType("ase")
        ase.data = types.SimpleNamespace(atomic_masses=numpy.ones(119))

    def alarm(signum, frame):
        raise TimeoutError(f"over {timeout} s")

    signal.signal(signal.SIGALRM, alarm)
    records = []
    for name, cls, build in builds(selected):
        if build is None:
            records.append({"class": name, "skipped": "arguments not guessed"})
            continue
        signal.alarm(timeout)
        try:
            record = execute(name, cls, build, site)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none is fatal
            record = {"class": name, "skipped": "failed", "error": f"{type(exc).__name__}: {str(exc)[:120]}"}
        finally:
            signal.alarm(0)
        records.append(record)
    return records


def lint(site: Path, only: set[str] | None = None) -> list:
    """INI001/INI002 findings (parsed) on the installed torch_geometric, default configuration."""
    from initlint.config import Config
    from initlint.lint.engine import lint_paths

    config = Config(root=site, select=("INI001", "INI002"))
    result = lint_paths([site / "torch_geometric" / "nn"], config, jobs=2)
    return sorted(parse(f, site) for f in result.findings)


def score(records: list[dict], predicted: set[tuple[str, str, str]]) -> dict:
    """TP/FP/FN over the (file, class, tensor) pairs some execution instantiated."""
    scope = {tuple(s) for r in records for s in r.get("scope", ())}
    truth = {tuple(u) for r in records for u in r.get("unwritten", ())}
    # `<f'...'>` names a tensor the linter cannot spell: it stands for every tensor of its class
    dynamic = {(f, c) for f, c, t in predicted if t.startswith("<")}
    hit = {s for s in scope if s in predicted or s[:2] in dynamic}
    tp, fp, fn = truth & hit, hit - truth, truth - hit
    precision = len(tp) / len(hit) if hit else 1.0
    recall = len(tp) / len(truth) if truth else 1.0
    return {"scope": scope, "truth": truth, "tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall,
            "unscored": {p for p in predicted if p not in scope and p[:2] not in {s[:2] for s in scope}}}


def report(records: list[dict], findings: list, verbose: bool) -> None:
    import torch_geometric

    built = [r for r in records if "scope" in r]
    skipped = collections.Counter(r["skipped"] for r in records if "skipped" in r)
    owners = collections.defaultdict(set)
    for r in built:
        for f, c, _t in r["scope"]:
            owners[(f, c)].add(r["class"])
    print(f"torch_geometric {torch_geometric.__version__}: {len(records)} builds of the nn.Module classes in "
          f"torch_geometric.nn (with VARIANTS); {len(built)} built with tensors; skipped: "
          + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    result = score(records, pairs(findings))
    classes_left = {(f, c) for f, c, _t in result["truth"]}
    print(f"\n(class, tensor) pairs instantiated: {len(result['scope'])} in {len({s[:2] for s in result['scope']})} "
          f"classes; left unwritten by reset_parameters(): {len(result['truth'])} in {len(classes_left)} classes")
    print(f"INI001/INI002 (default config): TP {len(result['tp'])}  FP {len(result['fp'])}  FN {len(result['fn'])}  "
          f"precision {result['precision']:.3f}  recall {result['recall']:.3f}")
    by_code = collections.defaultdict(set)
    for file, _line, code, cls, tensors in findings:
        for tensor in tensors:
            by_code[code].add((file, cls, tensor))
    for code in ("INI001", "INI002"):
        mine = {s for s in result["scope"] if s in by_code[code]}
        tp = mine & result["truth"]
        print(f"  {code}: {len(mine)} scored tensors, TP {len(tp)}, FP {len(mine - result['truth'])}"
              f" (precision {len(tp) / len(mine) if mine else 1:.3f})")
    for label in ("tp", "fp", "fn"):
        print(f"\n{label.upper()}: {len(result[label])}")
        for file, cls, tensor in sorted(result[label]):
            print(f"  {file} {cls}.{tensor}  (built by {', '.join(sorted(owners[(file, cls)]))[:80]})")
    print(f"\nfindings on classes no execution built (not scored): {len(result['unscored'])}")
    for item in sorted(result["unscored"]):
        print(f"  {item}")
    if verbose:
        for r in records:
            if "skipped" in r:
                print(f"  skipped {r['class']}: {r['skipped']} {r.get('error', '')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated class names (default: every class)")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per class")
    parser.add_argument("--verbose", action="store_true", help="also list the classes skipped, and why")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch_geometric

    site = Path(torch_geometric.__file__).resolve().parent.parent
    start = time.perf_counter()
    selected = classes()
    if args.only:
        wanted = set(args.only.split(","))
        selected = {k: v for k, v in selected.items() if k.rpartition(".")[2] in wanted}
    records = run(selected, site, args.timeout)
    report(records, lint(site), args.verbose)
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    raise SystemExit(main())
