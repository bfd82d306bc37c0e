"""Draws a run's loss and learning-rate curves from its metrics.jsonl as a PNG.

  python tools/plot_curves.py RUN_DIR_OR_METRICS_JSONL [-o OUT.png] [--smooth N]

Writes RUN_DIR/pictures/curves.png (the folder of the metrics file when a file is given;
pictures/ is created) unless -o says where, and prints the path written. Panels, two per row,
12 x 4 inches per row at 100 dpi (1200 x 400 pixels for two panels, 1200 x 800 for three or
four):
  loss        the total loss and every loss_<modality> term over the step (log scale when
              every value is positive), beside their trivial baselines: the semantic class
              prior's entropy (semantic_prior_ce, dashed) and 1.0 for the RGB term (dotted,
              what predicting 0 scores on normalised pixels); steps skipped for a non-finite
              loss or gradient are marked
  lr          the learning rate over the step
  mask mix    the mask generators' weights w_<generator>, if logged (pre-training)
  validation  val_top1 / val_top5 (%) and val_loss, if logged (fine-tuning evaluations)
--smooth N draws each loss and weight series as the mean of its last N records over a faint
raw line.

What metrics.jsonl holds (src/train/run_shell.cpp): one JSON object per line, of three kinds:
  step        {"step", "epoch", "loss", [loss_<modality> ...], "lr", [w_<generator> ...],
               "grad_norm", ...}
  skipped     {"step", "epoch", "loss": null, "skipped": "<reason>", "nonfinite_skipped"}
  evaluation  {"step", "epoch", "val_loss", "val_top1", "val_top5", "val_images", ...}
An evaluation shares its step number with that step's step line, so evaluations are keyed by
step apart from step and skipped lines; when a step appears twice (a run resumed after a
crash before truncate_metrics ran), its last record wins. Non-finite numbers (null, NaN,
Infinity) are dropped from a line, its other fields kept. Blank and undecodable lines (a last
line torn by a kill) are skipped and counted in a warning.

Exit codes: 0 written; 1 matplotlib missing or the PNG cannot be written; 2 a missing file or
folder, an empty metrics file, or one without step records.
"""
import argparse
import json
import math
import os
import sys
import tempfile

WIDTH_IN = 12.0   # figure width, inches
ROW_IN = 4.0      # height of one row of two panels, inches
DPI = 100


class UsageError(Exception):
    """A problem with what was given: printed as 'error: ...', exit 2."""


def parse_args(argv):
    p = argparse.ArgumentParser(prog="plot_curves.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="RUN_DIR_OR_METRICS_JSONL",
                   help="a run directory (its metrics.jsonl is read) or a metrics.jsonl file")
    p.add_argument("-o", "--output", metavar="OUT.png",
                   help="where to write the PNG (folders are created)")
    p.add_argument("--smooth", metavar="N", type=int, default=1,
                   help="draw the mean of the last N records of each loss and weight series "
                        "(default 1: raw)")
    args = p.parse_args(argv)
    if args.smooth < 1:
        p.error("--smooth must be at least 1, got %d" % args.smooth)
    return args


def metrics_path_of(path):
    """The metrics file and the run directory for a directory or a file argument."""
    if os.path.isdir(path):
        metrics = os.path.join(path, "metrics.jsonl")
        if not os.path.exists(metrics):
            raise UsageError("%s has no metrics.jsonl (is it a run directory?)" % path)
        return metrics, path
    if not os.path.exists(path):
        raise UsageError("%s does not exist" % path)
    return path, os.path.dirname(os.path.abspath(path))


def finite_number(value):
    """True for an int or float that is finite (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def step_of(record):
    step = record.get("step")
    if isinstance(step, bool):
        return None
    if isinstance(step, int):
        return step
    if isinstance(step, float) and math.isfinite(step) and step == int(step):
        return int(step)
    return None


class Metrics:
    """The records of one metrics.jsonl, deduplicated by step within each kind."""

    def __init__(self):
        self.steps = {}        # step -> numeric fields of its last step line
        self.skipped = {}      # step -> reason, for steps whose last record was a skip
        self.evaluations = {}  # step -> numeric fields of its last evaluation line
        self.blank = 0
        self.undecodable = 0
        self.without_step = 0
        self.repeated = 0      # step or evaluation records replaced by a later one
        self.dropped_values = 0


def read_metrics(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (path, e.strerror or e))
    if not data.strip():
        raise UsageError("%s is empty (has the run logged a step yet?)" % path)
    m = Metrics()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # what follows the final newline: not a line
    for raw in lines:
        if not raw.strip():
            m.blank += 1
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            m.undecodable += 1
            continue
        if not isinstance(record, dict):
            m.undecodable += 1
            continue
        step = step_of(record)
        if step is None:
            m.without_step += 1
            continue
        numbers = {}
        for key, value in record.items():
            if key == "step":
                continue
            if finite_number(value):
                numbers[key] = float(value)
            elif value is None or isinstance(value, float):
                m.dropped_values += 1  # null (how the C++ writes NaN), NaN or Infinity
        if any(key.startswith("val_") for key in record):
            if step in m.evaluations:
                m.repeated += 1
            m.evaluations[step] = numbers
        else:
            # A step line or a skipped step's line: the last record of the step wins.
            if step in m.steps or step in m.skipped:
                m.repeated += 1
            m.steps.pop(step, None)
            m.skipped.pop(step, None)
            if "skipped" in record:
                m.skipped[step] = str(record["skipped"])
            else:
                m.steps[step] = numbers
    return m


def series(records, key):
    """(steps, values) of `key` over the records that have a finite value of it."""
    xs, ys = [], []
    for step in sorted(records):
        if key in records[step]:
            xs.append(step)
            ys.append(records[step][key])
    return xs, ys


def smoothed(values, n):
    """Mean of the last n values at each point (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= n:
            total -= values[i - n]
        out.append(total / min(i + 1, n))
    return out


def keys_with_prefix(records, prefix):
    """The keys starting with `prefix`, in the order the run first logged them."""
    keys = {}
    for step in sorted(records):
        keys.update((k, None) for k in records[step] if k.startswith(prefix))
    return list(keys)


def draw(ax, xs, ys, label, smooth, color=None, marker=None):
    if not xs:
        return
    if len(xs) == 1:
        marker = marker or "o"  # a line of one point is not drawn
    if smooth > 1 and len(xs) > 1:
        (line,) = ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(xs, smoothed(ys, smooth), color=line.get_color(), label=label, linewidth=1.4)
    else:
        ax.plot(xs, ys, color=color, label=label, linewidth=1.2, marker=marker,
                markersize=4 if marker else None)


def plot(m, out_path, title, smooth):
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.ticker import LogFormatter
    except ImportError as e:
        sys.stderr.write("error: matplotlib is not installed for %s (%s); scripts/setup.sh "
                         "installs it into .venv\n" % (sys.executable, e))
        return 1

    class PlainLogFormatter(LogFormatter):
        """LogFormatter's choice of ticks to label, written as %g (0.5, 2, 0.01)."""

        def __call__(self, x, pos=None):
            return "%g" % x if super().__call__(x, pos) else ""

    steps = m.steps
    loss_keys = ["loss"] + keys_with_prefix(steps, "loss_")
    weight_keys = keys_with_prefix(steps, "w_")
    val_keys = [k for k in ("val_top1", "val_top5", "val_loss")
                if any(k in f for f in m.evaluations.values())]

    panels = ["loss", "lr"]
    if weight_keys:
        panels.append("weights")
    if val_keys:
        panels.append("validation")
    rows = (len(panels) + 1) // 2
    fig = Figure(figsize=(WIDTH_IN, ROW_IN * rows), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 2, squeeze=False).flatten()
    for ax in axes[len(panels):]:
        ax.remove()
    all_steps = sorted(set(steps) | set(m.skipped) | set(m.evaluations))
    lo, hi = all_steps[0], all_steps[-1]

    for ax, panel in zip(axes, panels):
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if hi > lo:
            pad = 0.01 * (hi - lo)  # room for a marker at either end
            ax.set_xlim(lo - pad, hi + pad)
        if panel == "loss":
            ax.set_title("loss")
            values = []
            colors = {}
            for key in loss_keys:
                xs, ys = series(steps, key)
                draw(ax, xs, ys, "total" if key == "loss" else key[len("loss_"):], smooth,
                     color="black" if key == "loss" else None)
                if ax.get_lines():
                    colors[key] = ax.get_lines()[-1].get_color()
                values += ys
            # The trivial baselines: the entropy of each step's semantic classes (what
            # predicting their frequencies scores) and 1 for norm-pix RGB (predicting zero).
            xs, prior = series(steps, "semantic_prior_ce")
            if "loss_semantic" in loss_keys and prior:
                ax.plot(xs, prior, linestyle="--", linewidth=1.0,
                        color=colors.get("loss_semantic"), label="semantic: class prior")
                values += prior
            if "loss_rgb" in loss_keys:
                ax.axhline(1.0, linestyle=":", linewidth=1.0, color=colors.get("loss_rgb"),
                           label="rgb: predicting 0")
                values.append(1.0)
            if values and min(values) > 0:
                ax.set_yscale("log")
                # Plain numbers (0.5, 2), not 5e-01; minor ticks labelled on a short range.
                ax.yaxis.set_major_formatter(PlainLogFormatter())
                ax.yaxis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))
            for i, step in enumerate(sorted(m.skipped)):
                ax.axvline(step, color="red", alpha=0.4, linewidth=0.8,
                           label="skipped (%d)" % len(m.skipped) if i == 0 else None)
        elif panel == "lr":
            ax.set_title("learning rate")
            draw(ax, *series(steps, "lr"), None, 1)
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        elif panel == "weights":
            ax.set_title("mask generator weights")
            for key in weight_keys:
                draw(ax, *series(steps, key), key[len("w_"):], smooth)
        else:
            ax.set_title("validation")
            marker = "o" if len(m.evaluations) <= 50 else None
            for key in ("val_top1", "val_top5"):
                if key in val_keys:
                    draw(ax, *series(m.evaluations, key), key + " (%)", 1, marker=marker)
            if "val_top1" in val_keys or "val_top5" in val_keys:
                ax.set_ylabel("accuracy (%)")
            handles, labels = ax.get_legend_handles_labels()
            if "val_loss" in val_keys:
                twin = ax.twinx()
                draw(twin, *series(m.evaluations, "val_loss"), "val_loss", 1, color="tab:red",
                     marker=marker)
                twin.set_ylabel("val_loss")
                more = twin.get_legend_handles_labels()
                handles, labels = handles + more[0], labels + more[1]
            if handles:
                ax.legend(handles, labels, fontsize="small")
            continue
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")

    fig.suptitle(title)
    fig.tight_layout()

    folder = os.path.dirname(os.path.abspath(out_path))
    try:
        os.makedirs(folder, exist_ok=True)
        # A temporary file renamed into place: a viewer never sees half a PNG.
        fd, tmp = tempfile.mkstemp(prefix=".curves-", suffix=".png.tmp", dir=folder)
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
            with os.fdopen(fd, "wb") as f:
                fig.savefig(f, format="png", dpi=DPI)
            os.replace(tmp, out_path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as e:
        sys.stderr.write("error: cannot write %s: %s\n" % (out_path, e.strerror or e))
        return 1
    return 0


def check_output_path(out, metrics):
    """Refuses an output that is not a new or regular .png file, or that is the input."""
    if not out.lower().endswith(".png"):
        raise UsageError("-o %s: the picture is a PNG\nhint: give a path ending in .png" % out)
    if os.path.lexists(out):
        if os.path.islink(out) or not os.path.isfile(out):
            raise UsageError("-o %s exists and is not a regular file\nhint: give a new path, "
                             "or that of an earlier curves picture" % out)
        if os.path.samefile(out, metrics):
            raise UsageError("-o %s is the metrics file being read\nhint: give another path" % out)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        metrics, run_dir = metrics_path_of(args.path)
        m = read_metrics(metrics)
        ignored = []
        if m.blank:
            ignored.append("%d blank" % m.blank)
        if m.undecodable:
            ignored.append("%d undecodable" % m.undecodable)
        if m.without_step:
            ignored.append("%d without a step" % m.without_step)
        if ignored:
            sys.stderr.write("warning: %s: skipped %s line(s)\n" % (metrics, ", ".join(ignored)))
        if not m.steps:
            others = []
            if m.evaluations:
                others.append("%d evaluation(s)" % len(m.evaluations))
            if m.skipped:
                others.append("%d skipped step(s)" % len(m.skipped))
            raise UsageError("%s has no step records (lines of a trained step)%s" %
                             (metrics, ", only " + " and ".join(others) if others else ""))
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    out = args.output or os.path.join(run_dir, "pictures", "curves.png")
    try:
        check_output_path(out, metrics)
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    last = max(m.steps)
    epoch = m.steps[last].get("epoch")
    title = "%s: %d steps, last %d%s" % (
        os.path.basename(os.path.normpath(os.path.abspath(run_dir))), len(m.steps), last,
        " (epoch %g)" % round(epoch, 2) if epoch is not None else "")
    sys.stderr.flush()
    print("%s: %d step records (%d repeated, the last kept), %d skipped, %d evaluations, "
          "%d non-finite values dropped" % (metrics, len(m.steps), m.repeated, len(m.skipped),
                                            len(m.evaluations), m.dropped_values), flush=True)
    rc = plot(m, out, title, args.smooth)
    if rc == 0:
        print("wrote %s" % out)
    return rc


if __name__ == "__main__":
    sys.exit(main())
