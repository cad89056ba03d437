"""A generic train loop: any model, any loss ``loss(outputs, labels)``, any batch source, any validation.

Early stopping on a validation metric (``monitor``, e.g. ``map_at_r`` or ``accuracy``) with patience;
the best epoch's weights are restored at the end. :class:`RichProgress` shows the running loss and
the validation metric; :func:`plot_history` writes the training curve as a PNG.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from pixseek.train.losses import TrainLoss


class BatchSource(Protocol):
    def __len__(self) -> int: ...  # batches per epoch

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 6  # epochs without improvement of ``monitor`` before stopping
    min_delta: float = 1e-4
    warmup_epochs: int = 1
    seed: int = 0
    max_seconds: float | None = None  # wall-clock budget; stops after the epoch that crosses it
    restore_best: bool = True  # end with the best epoch's weights (else the last epoch's)


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    metrics: dict[str, float]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    history: list[EpochRecord] = field(default_factory=list)
    monitor: str = "map_at_r"
    best_epoch: int = 0
    best_score: float = -math.inf
    stopped: str = "epochs"  # "epochs" | "early-stopping" | "time-budget"
    seconds: float = 0.0

    @property
    def best(self) -> EpochRecord:
        return next(r for r in self.history if r.epoch == self.best_epoch)

    def to_dict(self) -> dict:
        return {"monitor": self.monitor, "best_epoch": self.best_epoch, "best_score": self.best_score,
                "stopped": self.stopped, "seconds": round(self.seconds, 2),
                "history": [r.to_dict() for r in self.history]}


class Callback(Protocol):
    def on_start(self, epochs: int, steps: int) -> None: ...

    def on_step(self, epoch: int, step: int, loss: float) -> None: ...

    def on_epoch(self, record: EpochRecord, best: bool) -> None: ...


LOWER_IS_BETTER = frozenset({"nll", "loss"})


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Build a model and loss inside this, so their random initial weights come from ``seed`` and not
    from whatever the process drew from torch's global generator before (which made a run's result
    depend on what else ran first). The global generator is restored on exit."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _tie(metrics: dict[str, float], key: str | None) -> float:
    """The tie-break metric as lower-is-better (``nll`` as is, ``map`` negated; inf without one: then no
    tie is ever broken)."""
    if key is None or key not in metrics:
        return math.inf
    return metrics[key] if key in LOWER_IS_BETTER else -metrics[key]


def fit(model: nn.Module, loss_fn: TrainLoss, batches: BatchSource,
        validate: Callable[[nn.Module], dict[str, float]], config: TrainConfig = TrainConfig(),
        monitor: str = "map_at_r", callback: Callback | None = None,
        device: torch.device | None = None, tie_break: str | None = None) -> TrainResult:
    """:func:`_fit` drawing from its own generator seeded by ``config.seed``: torch's global generator
    is the same after a training run as before it (library code changes no process-wide state)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return _fit(model, loss_fn, batches, validate, config, monitor, callback, device, tie_break)


def _fit(model: nn.Module, loss_fn: TrainLoss, batches: BatchSource,
        validate: Callable[[nn.Module], dict[str, float]], config: TrainConfig = TrainConfig(),
        monitor: str = "map_at_r", callback: Callback | None = None,
        device: torch.device | None = None, tie_break: str | None = None) -> TrainResult:
    """Train ``model`` (outputs = ``model(x)``) to minimise ``loss_fn(outputs, y)``.

    ``validate(model)`` (called in eval mode, no grad) returns metrics; epoch 0 is the untrained
    model. Parameters of ``loss_fn`` (proxies) train too, at ``loss_fn.lr_mult`` times the rate.
    ``tie_break``: a finer metric (``nll``, lower is better; ``map``, higher is better) that decides
    between epochs whose ``monitor`` ties, so a coarse monitor (accuracy, mAP@R over a handful of
    images) never keeps the untrained epoch 0 by a tie; when that ties too, the lower training loss.
    """
    device = device or torch.device("cpu")
    model.to(device)
    loss_fn.to(device)
    groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    loss_params = [p for p in loss_fn.parameters() if p.requires_grad]
    if loss_params:
        groups.append({"params": loss_params, "lr": config.lr * loss_fn.lr_mult})
    opt = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    steps = len(batches)
    total = max(1, config.epochs * steps)
    warm = max(1, config.warmup_epochs * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    result = TrainResult(monitor=monitor)
    t_start = time.perf_counter()
    if callback:
        callback.on_start(config.epochs, steps)

    def evaluate() -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            return validate(model)

    metrics = evaluate()
    record = EpochRecord(0, float("nan"), metrics, 0.0)
    result.history.append(record)
    best_state = copy.deepcopy(model.state_dict())
    result.best_score, result.best_epoch = metrics.get(monitor, -math.inf), 0
    best_tie, best_loss = _tie(metrics, tie_break), math.inf
    if callback:
        callback.on_epoch(record, True)
    stale = 0
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss_fn.train()
        running, n = 0.0, 0
        for step, (x, y) in enumerate(batches.epoch(epoch)):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            if loss.requires_grad:  # a miner may find nothing to learn from in a batch
                loss.backward()
                opt.step()
            sched.step()
            running += float(loss.detach())
            n += 1
            if callback:
                callback.on_step(epoch, step + 1, running / n)
        metrics = evaluate()
        record = EpochRecord(epoch, running / max(n, 1), metrics, time.perf_counter() - t0)
        result.history.append(record)
        score = metrics.get(monitor, -math.inf)
        improved = score > result.best_score + config.min_delta
        if not improved and tie_break is not None and score >= result.best_score - config.min_delta:
            # a coarse monitor on a small validation set ties often, epoch 0 included: the better
            # ``tie_break`` wins; if that ties too (saturated at 1.0), the lower training loss (epoch 0 has none)
            tie = _tie(metrics, tie_break)
            improved = tie < best_tie - config.min_delta or (
                tie <= best_tie + config.min_delta and record.loss < best_loss)
        if improved:
            result.best_score, result.best_epoch, stale = max(score, result.best_score), epoch, 0
            best_tie, best_loss = _tie(metrics, tie_break), record.loss
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if callback:
            callback.on_epoch(record, improved)
        if stale >= config.patience:
            result.stopped = "early-stopping"
            break
        if config.max_seconds is not None and time.perf_counter() - t_start > config.max_seconds:
            result.stopped = "time-budget"
            break
    if config.restore_best:
        model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - t_start
    return result


class RichProgress:
    """A Rich progress bar: epoch, step, running loss, last validation metric and the best so far."""

    def __init__(self, console, description: str = "training", monitor: str = "map_at_r"):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.monitor = monitor
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console)
        self.description = description
        self.task = None
        self.steps = 1
        self.last = ""

    def __enter__(self) -> "RichProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def on_start(self, epochs: int, steps: int) -> None:
        self.steps = max(1, steps)
        self.task = self.progress.add_task(self.description, total=epochs * self.steps, status="")

    def on_step(self, epoch: int, step: int, loss: float) -> None:
        self.progress.update(self.task, completed=(epoch - 1) * self.steps + step,
                             status=f"epoch {epoch} loss {loss:.4f} {self.last}")

    def on_epoch(self, record: EpochRecord, best: bool) -> None:
        val = record.metrics.get(self.monitor)
        if val is not None:
            self.last = f"val {self.monitor} {val:.4f}{' *' if best else ''}"
        self.progress.update(self.task, completed=record.epoch * self.steps,
                             status=f"epoch {record.epoch} loss {record.loss:.4f} {self.last}")


def plot_history(result: TrainResult, path: str | Path, title: str = "") -> Path:
    """Training loss and validation metric per epoch (best epoch marked) -> PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [r.epoch for r in result.history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    ax1.plot(epochs[1:], [r.loss for r in result.history[1:]], marker="o", ms=3)
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss")
    for key in sorted({k for r in result.history for k in r.metrics if not k.startswith("queries")}):
        if key == result.monitor or key in ("recall@1", "accuracy"):
            ax2.plot(epochs, [r.metrics.get(key, float("nan")) for r in result.history], marker="o", ms=3, label=key)
    ax2.axvline(result.best_epoch, color="grey", ls="--", lw=1, label=f"best (epoch {result.best_epoch})")
    ax2.set(xlabel="epoch", ylabel="validation", title="validation")
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
