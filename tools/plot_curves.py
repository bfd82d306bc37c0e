"""Draws a run's loss and learning-rate curves from its metrics.jsonl as a PNG.

  python tools/plot_curves.py RUN_DIR_OR_METRICS_JSONL [-o OUT.png] [--smooth N]

Writes RUN_DIR/pictures/curves.png (the folder of the metrics file when a file is given;
pictures/ is created) unless -o says where, and prints the path written. Panels, two per row,
12 x 4 inches per row at 100 dpi (1200 x 400 pixels for two panels, 1200 x 800 for three or
four):
  loss        the total loss and every loss_<modality> term over the step (log scale when
              every value is in 1e-150..1e150), beside their trivial baselines: the semantic
              class prior's entropy (semantic_prior_ce, dashed) and 1.0 for the RGB term
              (dotted, what predicting 0 scores on normalised pixels); steps skipped for a
              non-finite loss or gradient are marked
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
Infinity) and absurd ones (over 1e300 in magnitude: the figure's arithmetic would overflow)
are dropped from a step or evaluation line, its other fields kept, and counted in a warning
(a skipped step's line only marks its step: its null loss is not counted). The
file is read a line at a time and only the fields drawn are kept, so memory grows with the
steps, not with the file; loss_ and w_ terms past the first 16 of each are not drawn (a
warning says so). Blank and undecodable lines (a last line torn by a kill), lines without a
whole step in 0..2^53 and lines over 1 MiB (damaged: read past, not into memory) are skipped
and counted in a warning.

-o's folder must exist (only the default pictures/ folder is created). A character the font
lacks is drawn as a box without matplotlib's warning; its other warnings are one line each.

Exit codes: 0 written; 1 matplotlib missing or the PNG cannot be written; 2 a missing file or
folder, one that is not a regular file (a FIFO, a device, a folder), an empty metrics file, one
without step records, or an -o that is empty, not a .png, in a folder that does not exist, not a
regular file or the metrics file itself.
"""
import argparse
import errno
import json
import math
import os
import stat
import sys
import tempfile
import warnings

WIDTH_IN = 12.0   # figure width, inches
ROW_IN = 4.0      # height of one row of two panels, inches
DPI = 100
MAX_LINE = 1 << 20   # bytes of one line: a step line is under 1 KiB
MAX_VALUE = 1e300    # larger magnitudes are dropped: room for the plot's differences and margins
LOG_RANGE = (1e-150, 1e150)  # a log axis spanning more overflows in matplotlib's ticks
MAX_STEP = 1 << 53   # steps beyond are not whole numbers as floats
MAX_SERIES = 16      # loss_<modality> and w_<generator> terms drawn, each
MAX_LABEL = 40       # characters of a legend label or of the title's run name
DRAWN = ("epoch", "loss", "semantic_prior_ce", "lr", "val_top1", "val_top5", "val_loss")


class UsageError(Exception):
    """A problem with what was given: printed as 'error: ...', exit 2."""


def parse_args(argv):
    p = argparse.ArgumentParser(prog="plot_curves.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="RUN_DIR_OR_METRICS_JSONL",
                   help="a run directory (its metrics.jsonl is read) or a metrics.jsonl file")
    p.add_argument("-o", "--output", metavar="OUT.png",
                   help="where to write the PNG (its folder must exist; default "
                        "RUN_DIR/pictures/curves.png, pictures/ created)")
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
        if not os.path.lexists(metrics):
            raise UsageError("%s has no metrics.jsonl (is it a run directory?)" % path)
        return metrics, path
    return path, os.path.dirname(os.path.abspath(path))


def not_a_file(mode):
    """Why a file of `mode` is not read (a FIFO would block, a device never end), or None; in
    the words of input_file_problem (include/c2fmae/core/input_file.h)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a FIFO, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    return "is not a regular file"


def open_metrics(path):
    """`path` opened for reading in binary, if it is a regular file (links followed)."""
    try:
        problem = not_a_file(os.stat(path).st_mode)
        if problem is None:
            # Non-blocking: a FIFO put in its place since the stat cannot hang the open.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            problem = not_a_file(os.fstat(fd).st_mode)
            if problem is None:
                os.set_blocking(fd, True)
                return os.fdopen(fd, "rb")
            os.close(fd)
    except OSError as e:
        if e.errno == errno.ENOENT:
            problem = ("is a broken link (its target does not exist)" if os.path.islink(path)
                       else "does not exist")
        elif e.errno == errno.ELOOP:
            problem = "is a link loop (too many levels of symbolic links)"
        else:
            problem = "cannot be read: %s" % (e.strerror or e)
    raise UsageError("%s %s" % (path, problem))


def number_of(value):
    """`value` as a float, None where it is not a number (a bool is not a number here), or
    infinity where it is NaN, infinite or absurd (an int too large for a float included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if abs(value) <= MAX_VALUE else math.inf


def step_of(record):
    """The record's step: a whole number (an int or a whole float) in 0..MAX_STEP, or None."""
    step = record.get("step")
    if isinstance(step, bool):
        return None
    if isinstance(step, float) and math.isfinite(step) and step == int(step):
        step = int(step)
    if isinstance(step, int) and 0 <= step <= MAX_STEP:
        return step
    return None


def drawn(key):
    """Whether the figure draws field `key` (or its title): the others are not kept."""
    return key in DRAWN or key.startswith(("loss_", "w_"))


class Metrics:
    """The records of one metrics.jsonl, deduplicated by step within each kind."""

    def __init__(self):
        self.steps = {}        # step -> drawn fields of its last step line
        self.skipped = {}      # step -> reason, for steps whose last record was a skip
        self.evaluations = {}  # step -> drawn fields of its last evaluation line
        self.blank = 0
        self.undecodable = 0
        self.without_step = 0
        self.overlong = 0      # lines over MAX_LINE bytes
        self.overlong_lines = []  # the first few of their line numbers
        self.repeated = 0      # step or evaluation records replaced by a later one
        self.dropped_values = 0  # null, NaN, infinite or absurd (see MAX_VALUE): not drawn
        self.keys = {}         # the fields kept, each one string shared by all records
        self.terms = {"loss_": 0, "w_": 0}  # how many of each prefix are kept
        self.left_out = set()  # the prefixes with terms past MAX_SERIES

    def key(self, key):
        """The shared string of a field to keep, or None for a term past MAX_SERIES."""
        if key in self.keys:
            return self.keys[key]
        if key not in DRAWN:
            prefix = "loss_" if key.startswith("loss_") else "w_"
            if self.terms[prefix] == MAX_SERIES:
                self.left_out.add(prefix)
                return None
            self.terms[prefix] += 1
        self.keys[key] = key
        return key


def lines_of(f, m):
    """The lines of `f` (newline kept), each at most MAX_LINE bytes: a longer one is read past
    in pieces and counted in m.overlong."""
    number = 0
    while True:
        line = f.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            m.overlong += 1
            if len(m.overlong_lines) < 3:
                m.overlong_lines.append(number)
            while line and not line.endswith(b"\n"):
                line = f.readline(MAX_LINE)
            continue
        yield line


def read_metrics(path):
    m = Metrics()
    f = open_metrics(path)
    try:
        with f:
            for raw in lines_of(f, m):
                read_line(m, raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw)  # BOM
    except OSError as e:
        raise UsageError("%s cannot be read: %s" % (path, e.strerror or e))
    if not (m.steps or m.skipped or m.evaluations or m.undecodable or m.without_step
            or m.overlong):
        raise UsageError("%s is empty (has the run logged a step yet?)" % path)
    return m


def read_line(m, raw):
    """Adds what the line `raw` (bytes) holds to m."""
    if not raw.strip():
        m.blank += 1
        return
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        m.undecodable += 1
        return
    if not isinstance(record, dict):
        m.undecodable += 1
        return
    step = step_of(record)
    if step is None:
        m.without_step += 1
        return
    evaluation = any(key.startswith("val_") for key in record)
    if not evaluation and "skipped" in record:
        # A skipped step's line: a mark at its step, its values (a null loss) not drawn.
        if step in m.steps or step in m.skipped:
            m.repeated += 1
        m.steps.pop(step, None)
        reason = record["skipped"]
        m.skipped[step] = reason[:200] if isinstance(reason, str) else ""
        return
    numbers = {}
    for key, value in record.items():
        if not drawn(key):
            continue
        number = number_of(value)
        if value is None or number == math.inf:
            m.dropped_values += 1  # null (how the C++ writes NaN), NaN, infinite or absurd
        elif number is not None:
            key = m.key(key)
            if key is not None:
                numbers[key] = number
    if evaluation:
        if step in m.evaluations:
            m.repeated += 1
        m.evaluations[step] = numbers
    else:
        # A step line: the last record of the step (a step or a skipped step's line) wins.
        if step in m.steps or step in m.skipped:
            m.repeated += 1
        m.skipped.pop(step, None)
        m.steps[step] = numbers


def series(records, key):
    """(steps, values) of `key` over the records that have a finite value of it."""
    xs, ys = [], []
    for step in sorted(records):
        if key in records[step]:
            xs.append(step)
            ys.append(records[step][key])
    return xs, ys


def smoothed(values, n):
    """Mean of the last n values at each point (fewer at the start). Summed exactly, as whole
    multiples of the finest power of two among the values: a float sum would lose the values
    beside a spike, and keep the loss once the spike has left the window."""
    ratios = [v.as_integer_ratio() for v in values]  # each over a power of two
    unit = max((den for _, den in ratios), default=1)
    wholes = [num * (unit // den) for num, den in ratios]
    out, total = [], 0
    for i, w in enumerate(wholes):
        total += w
        if i >= n:
            total -= wholes[i - n]
        out.append(total / (min(i + 1, n) * unit))  # rounded once, within the values' range
    return out


def label_of(text):
    """`text` as matplotlib draws it literally: '$' not read as mathtext, a leading '_' not
    read as 'leave out of the legend', what cannot be printed (a control character, a lone
    surrogate) as '?', at most MAX_LABEL characters."""
    if len(text) > MAX_LABEL:
        text = text[:MAX_LABEL - 3] + "..."
    text = "".join(c if c.isprintable() else "?" for c in text).replace("$", "\\$")
    return " " + text if text.startswith("_") else text or "''"


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


def is_missing_glyph(warning):
    """Whether `warning` is matplotlib's 'Glyph N (...) missing from font(s) ...': the
    character is drawn as a box, and the warning would name this script's line."""
    return issubclass(warning.category, UserWarning) and " missing from " in str(warning.message) \
        and str(warning.message).startswith("Glyph ")


def plot(m, out_path, title, smooth, make_folder):
    """Draws the figure into out_path (its folder created when make_folder); the exit code.
    matplotlib's warnings are caught: a missing glyph is left out (a box in the picture says
    it), any other is printed as one 'warning:' line, without this script's path and line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        rc = draw_figure(m, out_path, title, smooth, make_folder)
    seen = set()
    for w in caught:
        text = str(w.message).strip().splitlines()
        text = text[0] if text else w.category.__name__
        if not is_missing_glyph(w) and text not in seen:
            seen.add(text)
            sys.stderr.write("warning: matplotlib: %s\n" % text)
    return rc


def draw_figure(m, out_path, title, smooth, make_folder):
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
                draw(ax, xs, ys, "total" if key == "loss" else label_of(key[len("loss_"):]),
                     smooth, color="black" if key == "loss" else None)
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
            if values and LOG_RANGE[0] <= min(values) and max(values) <= LOG_RANGE[1]:
                ax.set_yscale("log")
                # Plain numbers (0.5, 2), not 5e-01; minor ticks labelled on a short range.
                ax.yaxis.set_major_formatter(PlainLogFormatter())
                ax.yaxis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))
            if m.skipped:
                # One line of vertical strokes (NaN between), at most one per 1/2000 of the
                # steps: Agg fails on a path of 100000s of them.
                unit = (hi - lo) / 2000 or 1
                marks = sorted({round(step / unit) * unit for step in m.skipped})
                xs = [x for step in marks for x in (step, step, math.nan)]
                ax.plot(xs, [0, 1, math.nan] * len(marks), color="red", alpha=0.4,
                        linewidth=0.8, transform=ax.get_xaxis_transform(),
                        label="skipped (%d)" % len(m.skipped))
        elif panel == "lr":
            ax.set_title("learning rate")
            draw(ax, *series(steps, "lr"), None, 1)
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        elif panel == "weights":
            ax.set_title("mask generator weights")
            for key in weight_keys:
                draw(ax, *series(steps, key), label_of(key[len("w_"):]), smooth)
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
        if make_folder:
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


def check_output_path(out, metrics, given):
    """Refuses an output that is empty, not a new or regular .png file, or the input; and one
    `given` (-o) whose folder does not exist, rather than create a mistyped path's folders."""
    if not out:
        raise UsageError("-o is empty\nhint: give a path ending in .png, or leave -o out for "
                         "RUN_DIR/pictures/curves.png")
    if not out.lower().endswith(".png"):
        raise UsageError("-o %s: the picture is a PNG\nhint: give a path ending in .png" % out)
    if os.path.lexists(out):
        if os.path.islink(out) or not os.path.isfile(out):
            raise UsageError("-o %s exists and is not a regular file\nhint: give a new path, "
                             "or that of an earlier curves picture" % out)
        if os.path.samefile(out, metrics):
            raise UsageError("-o %s is the metrics file being read\nhint: give another path" % out)
    folder = os.path.dirname(out)
    if given and folder and not os.path.isdir(folder):
        raise UsageError("-o %s: its folder %s %s" % (
            out, folder, "is not a folder" if os.path.exists(folder) else "does not exist"))


def say(line):
    """Prints a line of the report on stdout. The picture is made all the same when stdout is
    closed or full (| head -1, > /dev/full), and a path that does not encode is escaped."""
    if sys.stdout is None:
        return  # started with stdout closed
    try:
        if sys.stdout.errors == "strict":
            sys.stdout.reconfigure(errors="backslashreplace")
        print(line, flush=True)
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # for the flush at exit


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
            ignored.append("%d without a valid step" % m.without_step)
        if ignored:
            sys.stderr.write("warning: %s: skipped %s line(s)\n" % (metrics, ", ".join(ignored)))
        if m.overlong:
            sys.stderr.write("warning: %s: skipped %d damaged line(s) over %d MiB long: line %s%s\n"
                             % (metrics, m.overlong, MAX_LINE >> 20,
                                ", ".join(map(str, m.overlong_lines)),
                                ", ..." if m.overlong > len(m.overlong_lines) else ""))
        if m.dropped_values:
            sys.stderr.write("warning: %s: skipped %d value(s) that are null, NaN, infinite or "
                             "over %g in magnitude\n" % (metrics, m.dropped_values, MAX_VALUE))
        for prefix in sorted(m.left_out):
            sys.stderr.write("warning: %s: more than %d %s* terms; the first %d logged are drawn\n"
                             % (metrics, MAX_SERIES, prefix, MAX_SERIES))
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
    given = args.output is not None
    out = args.output if given else os.path.join(run_dir, "pictures", "curves.png")
    try:
        check_output_path(out, metrics, given)
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    last = max(m.steps)
    epoch = m.steps[last].get("epoch")
    name = os.path.basename(os.path.normpath(os.path.abspath(run_dir)))
    title = "%s: %d steps, last %d%s" % (label_of(name), len(m.steps), last,
                                         " (epoch %g)" % round(epoch, 2) if epoch is not None
                                         else "")
    sys.stderr.flush()
    say("%s: %d step records (%d repeated, the last kept), %d skipped, %d evaluations"
        % (metrics, len(m.steps), m.repeated, len(m.skipped), len(m.evaluations)))
    rc = plot(m, out, title, args.smooth, make_folder=not given)
    if rc == 0:
        say("wrote %s" % out)
    return rc


if __name__ == "__main__":
    sys.exit(main())
