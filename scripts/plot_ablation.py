#!/usr/bin/python3
"""Plots of a precision-ablation study, from the results.json `pure16 ablate` writes.

Usage: /usr/bin/python3 scripts/plot_ablation.py OUT_DIR

Writes OUT_DIR/plots/<name>.png and .svg: test accuracy and train loss per epoch (mean over
seeds, the band from the lowest to the highest seed), the loss scale over time (per step from
telemetry where the arms wrote it, else per epoch from the run logs), and, where telemetry exists,
the fraction of lost updates and of underflowing gradients per layer. Exits with status 3 when
matplotlib cannot be imported (pure16 ablate then reports the plots as skipped), and plots only
what the files hold: a missing field leaves out that line.
"""
import json
import math
import os
import sys
from collections import defaultdict

UNAVAILABLE = 3  # pure16::ablation::kPlotsUnavailableExit

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
except ImportError as error:
    print(f"matplotlib cannot be imported by {sys.executable} ({error}); "
          "install Debian's python3-matplotlib (scripts/install_deps.sh)")
    sys.exit(UNAVAILABLE)


def number(value):
    return float(value) if isinstance(value, (int, float)) else math.nan


def save(figure, out, name, written):
    figure.tight_layout()
    for extension in ("png", "svg"):
        path = os.path.join(out, "plots", f"{name}.{extension}")
        figure.savefig(path, dpi=120)
        written.append(path)
    plt.close(figure)


def curve_plot(results, field, ylabel, scale, log_y, out, name, written):
    figure, axes = plt.subplots(figsize=(7, 4.5))
    drawn = False
    for strategy in results["strategies"]:
        points = [p for p in strategy["curve"] if not math.isnan(number(p[field]["mean"]))]
        if not points:
            continue
        epochs = [p["epoch"] for p in points]
        mean = [number(p[field]["mean"]) * scale for p in points]
        low = [number(p[field]["min"]) * scale for p in points]
        high = [number(p[field]["max"]) * scale for p in points]
        (line,) = axes.plot(epochs, mean, marker="o", markersize=3, label=strategy["name"])
        axes.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2)
        drawn = True
    if not drawn:
        plt.close(figure)
        return
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(ylabel)
    if log_y:
        axes.set_yscale("log")
    axes.set_title(f"{results['name']}: {ylabel} (mean over seeds, band: min to max)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    save(figure, out, name, written)


def read_telemetry(path):
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut short by a killed run
    return records


def mean_by_step(series):
    """{label: {step: [values over seeds]}} -> {label: (steps, means)}"""
    result = {}
    for label, by_step in series.items():
        steps = sorted(by_step)
        result[label] = (steps, [sum(by_step[s]) / len(by_step[s]) for s in steps])
    return result


def layer_fractions(record, wanted):
    """Per label, the count-weighted mean of wanted(tensor) over the tensors it returns a value for."""
    sums = defaultdict(lambda: [0.0, 0.0])
    for tensor in record.get("tensors", []):
        got = wanted(tensor, record.get("dtype"))
        if got is None:
            continue
        label, value = got
        weight = number(tensor.get("count", 1))
        if math.isnan(value) or math.isnan(weight):
            continue
        sums[label][0] += value * weight
        sums[label][1] += weight
    return {label: total / weight for label, (total, weight) in sums.items() if weight > 0}


def lost_updates(tensor, _dtype):
    if tensor.get("role") != "update" or "lost_updates" not in tensor:
        return None
    return tensor.get("layer", tensor.get("name", "?")), number(tensor["lost_updates"])


def underflow(tensor, dtype):
    role = tensor.get("role")
    if role not in ("weight_grad", "activation_grad"):
        return None
    # An fp32 run's own zeros say little: what matters is what fp16 would lose, which it records.
    if dtype == "f32" and "fp16_underflow" in tensor:
        value = number(tensor["fp16_underflow"])
    elif "zeros" in tensor and "subnormals" in tensor:
        value = number(tensor["zeros"]) + number(tensor["subnormals"])
    else:
        return None
    return f"{tensor.get('layer', tensor.get('name', '?'))} {role}", value


def telemetry_plots(results, telemetry, out, written):
    for name, wanted, ylabel in (("telemetry_lost_updates", lost_updates, "fraction of updates lost"),
                                 ("telemetry_underflow", underflow, "fraction of gradients zero or subnormal")):
        panels = {}
        for strategy, arms in telemetry.items():
            series = defaultdict(lambda: defaultdict(list))
            for records in arms:
                for record in records:
                    if "step" not in record:
                        continue
                    for label, value in layer_fractions(record, wanted).items():
                        series[label][record["step"]].append(value)
            if series:
                panels[strategy] = mean_by_step(series)
        if not panels:
            continue
        figure, axes = plt.subplots(len(panels), 1, figsize=(8, 3.2 * len(panels)), squeeze=False)
        for row, (strategy, series) in enumerate(panels.items()):
            ax = axes[row][0]
            for label, (steps, values) in sorted(series.items()):
                ax.plot(steps, values, label=label, linewidth=1)
            ax.set_title(f"{strategy} (mean over seeds)")
            ax.set_xlabel("step")
            ax.set_ylabel(ylabel, fontsize=8)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=6, ncol=2)
        save(figure, out, name, written)


def loss_scale_plot(results, telemetry, out, written):
    """At each epoch's end from the run logs, for every strategy; beside it, per step from the
    telemetry of the strategies that have some (steps and epochs do not share an axis)."""
    by_epoch = {}
    for strategy in results["strategies"]:
        points = [p for p in strategy["curve"] if not math.isnan(number(p["loss_scale"]["mean"]))]
        if points:
            by_epoch[strategy["name"]] = ([p["epoch"] for p in points],
                                          [number(p["loss_scale"]["mean"]) for p in points])
    by_step = {}
    for name, arms in telemetry.items():
        values = defaultdict(list)
        for records in arms:
            for record in records:
                if "step" in record and not math.isnan(number(record.get("loss_scale"))):
                    values[record["step"]].append(number(record["loss_scale"]))
        if values:
            steps = sorted(values)
            by_step[name] = (steps, [sum(values[s]) / len(values[s]) for s in steps])
    panels = [(series, label) for series, label in ((by_epoch, "end of epoch"), (by_step, "step (telemetry)"))
              if series]
    if not panels:
        return
    figure, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.5), squeeze=False)
    for ax, (series, label) in zip(axes[0], panels):
        for name, (x, y) in series.items():
            if label == "end of epoch":
                ax.plot(x, y, marker="o", markersize=3, label=name)
            else:
                ax.step(x, y, where="post", label=name)
        ax.set_yscale("log", base=2)
        ax.set_xlabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("loss scale (mean over seeds)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(f"{results['name']}: loss scale")
    save(figure, out, "loss_scale", written)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = sys.argv[1]
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    telemetry = defaultdict(list)
    for arm in results["arms"]:
        if arm.get("telemetry"):
            path = os.path.join(out, arm["telemetry"])
            if os.path.exists(path):
                telemetry[arm["strategy"]].append(read_telemetry(path))
    written = []
    curve_plot(results, "test_accuracy", "test accuracy (%)", 100.0, False, out, "test_accuracy", written)
    curve_plot(results, "train_loss", "train loss", 1.0, True, out, "train_loss", written)
    loss_scale_plot(results, telemetry, out, written)
    telemetry_plots(results, telemetry, out, written)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
