"""What the verifier found: one record per tracked tensor, and the messages users read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "Status",
    "TensorRecord",
    "InitReport",
    "UninitializedWeightsError",
    "UninitializedWeightsWarning",
]


class Status:
    """The states a tracked tensor can end in."""

    WRITTEN = "written"
    NEVER_WRITTEN = "never-written"
    PARTLY_WRITTEN = "partly-written"
    NON_FINITE = "non-finite"
    ON_META = "on-meta"
    TIE_BROKEN = "tie-broken"
    IGNORED = "ignored"
    COMPUTED = "computed"  # holds only its constructor's value: a failure under ``portable=True``
    REINITIALIZED = "reinitialized"  # loaded, then overwritten by an initialization: warned, never raised

    FAILURES = frozenset({NEVER_WRITTEN, PARTLY_WRITTEN, NON_FINITE, ON_META, TIE_BROKEN})


class UninitializedWeightsError(RuntimeError):
    """Raised by ``check()`` in strict mode: some tensor was never written (or is NaN/inf/meta).

    Attributes:
        report: the ``InitReport`` with every tracked tensor.
    """

    def __init__(self, message: str, report: InitReport) -> None:
        super().__init__(message)
        self.report = report


class UninitializedWeightsWarning(UserWarning):
    """Warned by ``check()`` in non-strict mode for never-written or non-finite tensors."""


@dataclass
class TensorRecord:
    """One tracked parameter or buffer.

    Attributes:
        name: dotted name from the root module (``blocks.3.attn.bias``).
        kind: ``"parameter"`` or ``"buffer"``.
        shape: the (global) shape.
        dtype: e.g. ``"torch.float32"``.
        numel: number of elements.
        status: one of ``Status``'s values.
        aliases: the other names of a tied tensor.
        unwritten: elements still holding poison (poison mode) or non-finite values; ``numel`` when
            the whole tensor was never written.
        module_type: the class of the module owning it.
        detail: more on the status (the names a broken tie no longer shares storage with).
        origin: where its values came from: ``"loaded"``, ``"initialized"``, ``"computed"``,
            ``"reinitialized"``, ``"garbage"``, ``"derived"`` (computed from garbage); empty on meta.
        portable: the record was made under ``portable=True`` (then ``computed`` fails).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    dtype: str
    numel: int
    status: str
    aliases: tuple[str, ...] = ()
    unwritten: int = 0
    module_type: str = ""
    detail: str = ""
    origin: str = ""
    portable: bool = field(default=False, repr=False)

    @property
    def failed(self) -> bool:
        """Whether this record is a problem."""
        return self.status in Status.FAILURES or (self.portable and self.status == Status.COMPUTED)


@dataclass
class InitReport:
    """Every tracked tensor after empty init, and what happened to it."""

    records: list[TensorRecord] = field(default_factory=list)
    portable: bool = False
    rank: int | None = None
    global_counts: tuple[int, int, int, int] | None = None  # failed, total, failed elements, total

    @property
    def entries(self) -> list[TensorRecord]:
        """The records (another name for ``records``)."""
        return self.records

    def __iter__(self) -> Iterator[TensorRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def by_name(self) -> dict[str, TensorRecord]:
        """Records by dotted name (tied names included)."""
        return {name: r for r in self.records for name in (r.name, *r.aliases)}

    @property
    def failures(self) -> list[TensorRecord]:
        """Records in a failing state."""
        return [r for r in self.records if r.failed]

    @property
    def ok(self) -> bool:
        """Whether nothing failed (across ranks, when distributed)."""
        if self.global_counts is not None:
            return self.global_counts[0] == 0
        return not self.failures

    def counts(self) -> tuple[int, int, int, int]:
        """(failed tensors, tensors, failed elements, elements), this process only."""
        failures = self.failures
        return (
            len(failures),
            len(self.records),
            sum(r.unwritten or r.numel for r in failures),
            sum(r.numel for r in self.records),
        )

    def summary(self) -> str:
        """One line: "3 of 148 tensors (1.2M of 124M elements) were never written"."""
        failed, total, failed_elements, elements = self.global_counts or self.counts()
        where = " across all ranks" if self.global_counts is not None else ""
        statuses = {r.status for r in self.failures}
        what = _SUMMARY_VERB.get(statuses.pop(), "failed") if len(statuses) == 1 else "failed verification"
        if not failed:
            what = "failed verification"
        return f"{failed} of {total} tensors ({_human(failed_elements)} of {_human(elements)} elements) {what}{where}"

    def format(self, limit: int = 50) -> str:
        """The message users read: failures grouped by module, the summary, the likely cause."""
        failures = self.failures
        prefix = f"[rank {self.rank}] " if self.rank is not None else ""
        lines = [f"{prefix}initlint: {self.summary()} after empty-weight initialization:"]
        groups: dict[str, list[TensorRecord]] = defaultdict(list)
        for record in failures:
            groups[record.name.rpartition(".")[0] or "<root>"].append(record)
        shown = 0
        for module, records in groups.items():
            if shown >= limit:
                break
            lines.append(f"  {module} ({records[0].module_type}):")
            for record in records:
                shown += 1
                lines.append("    " + _describe(record))
        if len(failures) > shown:
            lines.append(f"  ... and {len(failures) - shown} more (see tracker.report())")
        lines += _advice(failures)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def format_reinitialized(self) -> str:
        """The warning for tensors whose loaded values an initialization overwrote."""
        names = [r.name for r in self.records if r.status == Status.REINITIALIZED]
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        return (
            f"initlint: {len(names)} loaded tensor(s) were overwritten by an initialization afterwards, so their "
            f"loaded values are gone: {shown}. Initialize before loading, or skip the initialization of loaded "
            "tensors (transformers: check that _init_weights does not re-initialize keys present in the checkpoint)."
        )


_SUMMARY_VERB = {
    Status.NEVER_WRITTEN: "were never written by a load or a reset",
    Status.PARTLY_WRITTEN: "were only partly written",
    Status.NON_FINITE: "hold NaN/inf values",
    Status.ON_META: "are still on the meta device",
    Status.TIE_BROKEN: "lost a weight tie",
    Status.COMPUTED: "hold only the value their constructor computed (no load or reset wrote them)",
}


def _describe(record: TensorRecord) -> str:
    shape = "x".join(map(str, record.shape)) or "scalar"
    tied = f" (tied with {', '.join(record.aliases)})" if record.aliases else ""
    if record.status == Status.PARTLY_WRITTEN:
        what = f"{record.unwritten} of {record.numel} elements never written"
    elif record.status == Status.NON_FINITE:
        what = f"{record.unwritten} of {record.numel} elements are NaN/inf"
    elif record.status == Status.ON_META:
        what = record.detail or "still on the meta device"
    elif record.status == Status.COMPUTED:
        what = "only its constructor's value; a meta-device or sharded init would leave it as garbage"
    elif record.status == Status.TIE_BROKEN:
        what = f"no longer shares storage with {record.detail}"
    elif record.origin == "derived":
        what = "computed from memory nobody wrote"
    else:
        what = "never written"
    return f"{record.name}: {what} ({record.kind} [{shape}] {record.dtype.replace('torch.', '')}){tied}"


def _advice(failures: list[TensorRecord]) -> list[str]:
    statuses = {r.status for r in failures}
    lines = []
    if Status.NEVER_WRITTEN in statuses or Status.PARTLY_WRITTEN in statuses:
        lines.append(
            "Likely cause: the checkpoint lacks these keys (load_state_dict(strict=False) returns them in "
            "missing_keys; check for renamed keys), and nothing initialized them: the module's reset_parameters() "
            "or, for a transformers model, its _init_weights() does not write them (run `initlint` on its source: "
            "INI001/INI002)."
        )
        lines.append(
            "Next step: load a checkpoint that has them, or initialize them after loading "
            "(module.reset_parameters(); a branch for them in _init_weights); if a value is meant to stay as "
            "it is, pass ignore=['<dotted name pattern>'] or call tracker.mark_initialized(...)."
        )
    if Status.COMPUTED in statuses:
        lines.append(
            "portable=True: these values exist only because this run built the model on real memory; under "
            "meta-device or sharded init nothing writes them. Compute them in reset_parameters(), or load them."
        )
    if Status.ON_META in statuses:
        lines.append(
            "Meta tensors hold no data: materialize with model.to_empty(device=...) and then load or "
            "reset them (never .to(), which fails to copy out of meta)."
        )
    if Status.NON_FINITE in statuses:
        lines.append("NaN/inf values: check the checkpoint for them, or the init that produced them.")
    if Status.TIE_BROKEN in statuses:
        lines.append(
            "A weight tie made at construction was broken (to_empty and init_empty_weights do this): "
            "call model.tie_weights() or re-assign the shared parameter after materializing."
        )
    return lines


def _human(count: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return str(count)
