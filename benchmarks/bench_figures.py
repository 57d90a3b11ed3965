"""What the figure checks cost: the import hook, the recording wrapper around `Axes.hist`, and `check` itself.

- running the body of cbs_export_lab/hooks.py (what `import cbs_export_lab` pays for the hook; compiled
  once, so the figure is the cost with bytecode cached);
- `ax.hist` through the wrapper against the unwrapped method, same data, interleaved (ratio in one run);
- `cel.check` of a 2x2 figure (histogram, bars, box plot, heatmap), of a line of 200,000 points, of a
  1000x1000 image, and of a figure of 10 subplots with 100,000 points each (lines, scatters, histograms, ECDFs);
  target: under 1 s.

    .venv/bin/python benchmarks/bench_figures.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

import cbs_export_lab as cel  # noqa: E402
from cbs_export_lab import demo, figures, hooks  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def module_body() -> float:
    source = Path(hooks.__file__).read_text(encoding="utf-8")
    code = compile(source, hooks.__file__, "exec")
    return timed(lambda: exec(code, {"__name__": "cbs_export_lab._bench_hooks", "__package__": "cbs_export_lab"}))


def hist_pair(values: np.ndarray) -> tuple[float, float]:
    fig, (a, b) = plt.subplots(1, 2)
    wrapped = timed(lambda: a.hist(values, bins=50, range=(10, 90)))
    plain = timed(lambda: Axes.hist.__wrapped__(b, values, bins=50, range=(10, 90)))
    plt.close(fig)
    return wrapped, plain


def mixed_figure(people: pd.DataFrame):
    fig, axes = plt.subplots(2, 2)
    figures.safe_hist(axes[0, 0], people.inkomen)
    people.leeftijdsklasse.value_counts(sort=False).plot.bar(ax=axes[0, 1])
    figures.safe_boxplot(axes[1, 0], people.leeftijd)
    axes[1, 1].pcolormesh(pd.crosstab(people.gemeente, people.geslacht).to_numpy())
    fig.suptitle(f"N = {len(people)}")
    return fig


def ten_subplots() -> plt.Figure:
    rng = np.random.default_rng(3)
    fig, axes = plt.subplots(2, 5)
    for i, ax in enumerate(axes.flat):
        values = rng.normal(50, 10, 100_000)
        kind = i % 4
        if kind == 0:
            ax.plot(np.arange(values.size), values)
        elif kind == 1:
            ax.scatter(values, rng.random(values.size))
        elif kind == 2:
            ax.hist(values, bins=30, range=(30, 70))
        else:
            ax.ecdf(values)
        ax.set_title(f"deel {i + 1} (N = {values.size:,})")
    return fig


def main(repeat: int = 9) -> None:
    os.environ.setdefault("CBS_EXPORT_HOME", tempfile.mkdtemp(prefix="cbs_bench_home_"))
    people = demo.persons(20_000, seed=2)
    values = demo.large_persons(1_000_000, seed=1).inkomen.to_numpy() / 1000
    fig = mixed_figure(people)
    line_fig, ax = plt.subplots()
    ax.plot(np.arange(200_000), np.random.default_rng(0).random(200_000))
    image_fig, ax = plt.subplots()
    ax.imshow(np.random.default_rng(1).integers(0, 40, size=(1000, 1000)))
    many_fig = ten_subplots()
    body, wrapped, plain, mixed, line, image, many = [], [], [], [], [], [], []
    for _ in range(repeat):
        body.append(module_body())
        w, p = hist_pair(values)
        wrapped.append(w)
        plain.append(p)
        mixed.append(timed(lambda: cel.check(fig)))
        line.append(timed(lambda: cel.check(line_fig)))
        image.append(timed(lambda: cel.check(image_fig)))
        many.append(timed(lambda: cel.check(many_fig)))
    ms = lambda xs: f"{statistics.median(xs) * 1000:8.1f} ms"  # noqa: E731
    print(f"median of {repeat} interleaved runs")
    print(f"{'hooks.py module body (import hook)':46} {ms(body)}")
    print(f"{'ax.hist, 1,000,000 values, unwrapped':46} {ms(plain)}")
    print(f"{'ax.hist, 1,000,000 values, wrapped':46} {ms(wrapped)}")
    print(f"{'  ratio wrapped / unwrapped':46} {statistics.median(wrapped) / statistics.median(plain):8.2f}")
    print(f"{'check: 2x2 figure (hist, bars, box, heatmap)':46} {ms(mixed)}")
    print(f"{'check: line of 200,000 points':46} {ms(line)}")
    print(f"{'check: 1000x1000 image':46} {ms(image)}")
    print(f"{'check: 10 subplots of 100,000 points (< 1 s)':46} {ms(many)}")
    plt.close("all")


if __name__ == "__main__":
    main()
