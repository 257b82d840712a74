"""Pipeline timelines drawn as the lectures draw them: one row per stage (stage 0 on top),
time to the right, a box per forward (F) or backward (B) with its micro-batch number; the
white space between the boxes is the bubble."""
from __future__ import annotations

from typing import Optional, Sequence

from .pipeline_schedule import BACKWARD, FORWARD, Interval, bubble_fraction

COLOURS = {FORWARD: "#8ab6e8", BACKWARD: "#9fd49a"}


def draw_timelines(ax, timelines: Sequence[Sequence[Interval]], title: str = "") -> None:
    """Draw one step's `timelines` (per stage, its busy intervals) on matplotlib axes `ax`,
    times relative to the step's first start, in milliseconds."""
    t0 = min((iv.start for line in timelines for iv in line), default=0.0)
    for line in timelines:
        for iv in line:
            start, width = (iv.start - t0) * 1e3, (iv.end - iv.start) * 1e3
            ax.broken_barh([(start, width)], (iv.stage - 0.4, 0.8),
                           facecolors=COLOURS[iv.kind], edgecolor="black", linewidth=0.5)
            ax.text(start + width / 2, iv.stage, str(iv.microbatch), ha="center",
                    va="center", fontsize=7)
    ax.set_yticks(range(len(timelines)))
    ax.set_yticklabels([f"stage {i}" for i in range(len(timelines))])
    ax.set_ylim(len(timelines) - 0.5, -0.5)
    ax.set_xlabel("time in the step (ms)")
    ax.set_title(f"{title}  bubble {bubble_fraction(timelines):.1%}".strip(), fontsize=9)


def plot_timelines(panels: Sequence[tuple], path: str, suptitle: Optional[str] = None) -> None:
    """Write a PNG to `path` with one panel per (title, timelines) in `panels`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.6 + 1.2 * len(panels)),
                             squeeze=False)
    for ax, (title, timelines) in zip(axes[:, 0], panels):
        draw_timelines(ax, timelines, title)
    fig.legend(handles=[Patch(facecolor=COLOURS[FORWARD], edgecolor="black", label="forward"),
                        Patch(facecolor=COLOURS[BACKWARD], edgecolor="black", label="backward")],
               loc="upper right", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
