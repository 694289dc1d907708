"""Report figures (matplotlib, Agg backend) returned as PNG bytes."""

import io
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PHASE_COLORS = ("tab:blue", "tab:orange")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def training_curves(phases: List[Dict]) -> bytes:
    """Loss and accuracy per epoch, train (solid) and eval (dashed), both phases end to end."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    offset = 0
    for color, phase in zip(PHASE_COLORS, phases):
        history = phase["history"]
        epochs = np.arange(1, len(history.get("loss", [])) + 1) + offset
        for ax, metric in zip(axes, ("loss", "accuracy")):
            if metric in history:
                ax.plot(epochs, history[metric], "-o", color=color, ms=3,
                        label=f"{phase['phase']} train")
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], "--s", color=color, ms=3,
                        label=f"{phase['phase']} eval")
        if len(epochs) and offset:
            for ax in axes:
                ax.axvline(offset + 0.5, color="grey", lw=0.8, ls=":")
        offset += len(epochs)
    for ax, title in zip(axes, ("loss", "accuracy")):
        ax.set_title(title)
        ax.set_xlabel("epoch (both phases)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    return _png(fig)


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> bytes:
    """Counts with row-normalised shading: rows are true classes, columns predictions."""
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = 1.2 + 0.9 * len(class_names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{int(count)}\n{share[i, j]:.0%}", ha="center", va="center",
                color="white" if share[i, j] > 0.6 else "black", fontsize=9)
    ax.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    return _png(fig)


def label_distribution(counts_by_split: Dict[str, Dict[str, float]]) -> bytes:
    """Grouped bars: examples per label in each split."""
    labels = sorted({label for counts in counts_by_split.values() for label in counts})
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(labels), 3))
    width = 0.8 / max(1, len(counts_by_split))
    for k, (split, counts) in enumerate(sorted(counts_by_split.items())):
        ax.bar(np.arange(len(labels)) + k * width, [counts.get(lb, 0) for lb in labels],
               width, label=split)
    ax.set_xticks(np.arange(len(labels)) + width * (len(counts_by_split) - 1) / 2, labels)
    ax.set_ylabel("examples")
    ax.legend(fontsize=8)
    return _png(fig)
