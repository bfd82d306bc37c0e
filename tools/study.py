"""The representation study: pre-trains each recipe, evaluates its encoder four ways, tabulates.

  python tools/study.py --out DIR [--recipes a,b,...] [--seeds N] [--set key=value ...]
                        [--budgets E1,E2,...] [--eval-config FILE] [--linprobe-config FILE]
                        [--build-dir build] [--evals knn,dense_probe,linprobe,finetune]
                        [--dry-run]

The paper's ablation, reproducible from one command: which pre-training recipe gives the
better encoder? For every recipe, seed and budget (pre-training epochs) it runs
  pretrain     build/tools/c2fmae_pretrain --config RECIPE --set train.seed=S
                 [--set train.epochs=E] [--set ...] --output-dir DIR/runs/<recipe>/<budget>/
                 seed<S>/pretrain --resume auto
and then evaluates the encoder it wrote (pretrain/latest.pt) with c2fmae_finetune --config
EVAL_CONFIG (LINPROBE_CONFIG for linprobe) --pretrained CKPT --set train.seed=S [--set ...]
and the recipe's encoder shape (model.preset, img_size, patch_size, embed_dim, depth,
num_heads, mlp_ratio, read from `c2fmae_pretrain --config RECIPE [--set ...] --dump-config`):
  knn          --set finetune.mode=knn: k-nearest-neighbour top-1 of the frozen features
               (the last line of its stdout: a JSON object)
  dense_probe  --set finetune.mode=dense_probe: a per-patch semantic probe of the frozen
               features, mean class accuracy and mIoU (the last line of its stdout)
  linprobe     --config LINPROBE_CONFIG --set finetune.mode=linprobe: a linear classifier on
               the frozen encoder, run in DIR/runs/.../linprobe (its last val_top1 in
               metrics.jsonl)
  finetune     --set finetune.mode=finetune: end-to-end fine-tuning, in DIR/runs/.../finetune
A "random" row gets the same evaluations of a randomly initialised encoder (no --pretrained;
the first recipe's encoder shape), once per seed, in DIR/runs/random/seed<S>/.

Arguments:
  --recipes    names of configs/ablation/synthetic/<name>.yaml, or paths of any pre-training
               YAML (named by their file name without .yaml); default: all eight of them
  --seeds N    seeds 0..N-1, each given to pre-training and to every evaluation (default 3)
  --budgets    pre-training epochs to compare (train.epochs); default: the recipe's own
               (written "recipe")
  --set        key=value given to every program call (pre-training, evaluations, the config
               dump), e.g. --set data.source=folder --set data.root=/data/x: keys that both
               programs know (data.*); repeatable
  --evals      which evaluations, a subset of knn,dense_probe,linprobe,finetune (default all)
  --eval-config  c2fmae_finetune's YAML for knn, dense_probe and finetune (default
               configs/finetune/demo_synthetic_tiny.yaml)
  --linprobe-config  c2fmae_finetune's YAML for linprobe (default
               configs/finetune/demo_synthetic_linprobe.yaml)
  --build-dir  where c2fmae_pretrain and c2fmae_finetune are: DIR/tools/ or DIR itself
               (default: this checkout's build/)
  --dry-run    print the commands that would run (the ones not done yet) and exit; runs only
               c2fmae_pretrain --dump-config, for the encoder shape

Writes, in DIR:
  study.jsonl  one JSON object a line per finished (recipe, budget, seed, eval): recipe,
               budget ("recipe" or the epochs; null for random), seed, eval (also "pretrain",
               with the run's last loss), metrics, command, seconds, and the settings (config,
               eval_config or, for linprobe, linprobe_config, sets). Each line is flushed to
               disk when written.
  study.md     the command that made it, and a table: one row per (recipe, budget) plus
               "random" and, where the evaluations report it, "prior" (the majority-class
               figure); a column per metric (kNN top-1, dense mean class accuracy, dense
               mIoU, linear-probe top-1, fine-tune top-1), each "mean +- sample std (n)" over
               the seeds done, in %.
  study.png    the same as grouped bars: a group per metric, a bar per row, error bars one
               std, the prior a dashed line over its group (matplotlib, Agg).
  runs/        the run directories, and each call's .stdout / .stderr beside its run.

Resuming: run the same command again. Entries already in study.jsonl are not run again (a
last line torn by a kill is dropped with a warning), and a killed pre-training, linear-probe
or fine-tuning run continues from its checkpoint (--resume auto). Changing --set,
--eval-config or --linprobe-config, or pointing a recipe name at another file, is refused:
give another --out.
Ctrl-C (or SIGTERM) is passed on to the running program, which saves a checkpoint; the study
then writes its table and stops.

Example:
  .venv/bin/python tools/study.py --out runs/study --recipes cascade_curriculum,mae \\
      --seeds 2 --budgets 1,3 --evals knn,linprobe

Exit codes: 0 every run done; 1 a program failed (the others still ran; the table shows what
finished) or study.png could not be written (matplotlib missing); 2 bad arguments (an unknown
recipe or evaluation, --seeds < 1, a --set without '=', budgets that are not positive
integers, a missing --eval-config or --linprobe-config, programs missing from the build
directory, --out an existing file, study.jsonl made with other settings, another study
running on --out); 128 + N when stopped by signal N.
"""
import argparse
import errno
import fcntl
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE_DIR = os.path.join(REPO, "configs", "ablation", "synthetic")
DEFAULT_RECIPES = ["cascade_curriculum", "cascade_random", "parallel_curriculum",
                   "parallel_random", "mae", "semmae", "evolved", "block"]
DEFAULT_EVAL_CONFIG = os.path.join(REPO, "configs", "finetune", "demo_synthetic_tiny.yaml")
DEFAULT_LINPROBE_CONFIG = os.path.join(REPO, "configs", "finetune",
                                       "demo_synthetic_linprobe.yaml")
EVALS = ("knn", "dense_probe", "linprobe", "finetune")
RUN_EVALS = ("linprobe", "finetune")  # those that train, in a run directory of their own
MODEL_KEYS = ("preset", "img_size", "patch_size", "embed_dim", "depth", "num_heads",
              "mlp_ratio")
# The table's columns: (evaluation, metric, title).
COLUMNS = (
    ("knn", "val_top1", "kNN top-1"),
    ("dense_probe", "mean_class_acc", "dense mean class acc"),
    ("dense_probe", "miou", "dense mIoU"),
    ("linprobe", "val_top1", "linear probe top-1"),
    ("finetune", "val_top1", "fine-tune top-1"),
)
RANDOM = "random"
RECIPE_BUDGET = "recipe"
# Keys the study sets itself.
RESERVED_KEYS = ("train.seed", "train.epochs", "train.output_dir", "train.pretrained",
                 "finetune.mode")
STDERR_TAIL = 15  # lines of a failed program's stderr shown


def shown(path):
    """`path` relative to the working folder when it is inside it (shorter commands)."""
    rel = os.path.relpath(path)
    return path if rel == ".." or rel.startswith(".." + os.sep) else rel


class UsageError(Exception):
    """A problem with what was given: printed as 'error: ...', exit 2."""


# ---------------------------------------------------------------------------- arguments

def comma_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="study.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the study's folder: study.jsonl, study.md, study.png and runs/")
    p.add_argument("--recipes", metavar="A,B,...", default=",".join(DEFAULT_RECIPES),
                   help="recipe names (configs/ablation/synthetic/<name>.yaml) or YAML paths "
                        "(default: all %d of them)" % len(DEFAULT_RECIPES))
    p.add_argument("--seeds", metavar="N", type=int, default=3,
                   help="seeds 0..N-1 (default %(default)s)")
    p.add_argument("--set", dest="sets", metavar="KEY=VALUE", action="append", default=[],
                   help="a config key given to every program call, e.g. data.root=/x "
                        "(repeatable)")
    p.add_argument("--budgets", metavar="E1,E2,...",
                   help="pre-training epochs to compare (default: the recipe's own)")
    p.add_argument("--eval-config", metavar="FILE", default=shown(DEFAULT_EVAL_CONFIG),
                   help="c2fmae_finetune's config for knn, dense_probe and finetune "
                        "(default: configs/finetune/demo_synthetic_tiny.yaml)")
    p.add_argument("--linprobe-config", metavar="FILE", default=shown(DEFAULT_LINPROBE_CONFIG),
                   help="c2fmae_finetune's config for the linprobe evaluation (default: "
                        "configs/finetune/demo_synthetic_linprobe.yaml)")
    p.add_argument("--build-dir", metavar="DIR", default=shown(os.path.join(REPO, "build")),
                   help="the build folder holding tools/c2fmae_pretrain and "
                        "tools/c2fmae_finetune (default: this checkout's build/)")
    p.add_argument("--evals", metavar="E1,E2,...", default=",".join(EVALS),
                   help="evaluations, any of %s (default: all)" % ",".join(EVALS))
    p.add_argument("--dry-run", action="store_true",
                   help="print the commands still to run and exit")
    args = p.parse_args(argv)
    if not 1 <= args.seeds <= 1000:
        p.error("--seeds must be in 1..1000, got %d" % args.seeds)
    return args


def resolve_recipes(text):
    """[(name, path)] of --recipes; a name is a file of configs/ablation/synthetic/."""
    recipes = []
    for item in comma_list(text):
        if "/" in item or item.endswith((".yaml", ".yml")):
            if not os.path.isfile(item):
                raise UsageError("recipe %s: no such file" % item)
            name = os.path.splitext(os.path.basename(item))[0]
            path = item
        else:
            path = shown(os.path.join(RECIPE_DIR, item + ".yaml"))
            if not os.path.isfile(path):
                known = sorted(os.path.splitext(f)[0] for f in os.listdir(RECIPE_DIR)
                               if f.endswith(".yaml")) if os.path.isdir(RECIPE_DIR) else []
                raise UsageError("unknown recipe '%s'\nhint: one of %s, or the path of a "
                                 "pre-training YAML" % (item, ", ".join(known) or "(none)"))
            name = item
        if name == RANDOM:
            raise UsageError("recipe %s: '%s' names the randomly initialised encoder's row\n"
                             "hint: rename the file" % (item, RANDOM))
        if any(name == n for n, _ in recipes):
            raise UsageError("recipe '%s' is given twice (recipes are named by their file "
                             "name)" % name)
        recipes.append((name, path))
    if not recipes:
        raise UsageError("--recipes is empty")
    return recipes


def resolve_budgets(text):
    """[None] (the recipe's own epochs) or the list of --budgets epochs."""
    if text is None:
        return [None]
    budgets = []
    for item in comma_list(text):
        epochs = int(item) if item.isdigit() and len(item) <= 6 else 0
        if not 1 <= epochs <= 100000:
            raise UsageError("--budgets: '%s' is not a whole number of epochs in 1..100000" % item)
        if epochs in budgets:
            raise UsageError("--budgets: %d is given twice" % epochs)
        budgets.append(epochs)
    if not budgets:
        raise UsageError("--budgets is empty\nhint: leave it out for the recipe's own epochs")
    return budgets


def resolve_evals(text):
    chosen = comma_list(text)
    for e in chosen:
        if e not in EVALS:
            raise UsageError("unknown evaluation '%s'\nhint: any of %s" % (e, ",".join(EVALS)))
    if not chosen:
        raise UsageError("--evals is empty\nhint: any of %s" % ",".join(EVALS))
    return [e for e in EVALS if e in chosen]


def check_sets(sets):
    for s in sets:
        key, eq, _ = s.partition("=")
        if not eq or "." not in key or key.startswith(".") or key.endswith("."):
            raise UsageError("--set %s: expected section.key=value, e.g. --set data.root=/x"
                             % s)
        if key in RESERVED_KEYS:
            raise UsageError("--set %s: the study sets %s itself\nhint: use --seeds, "
                             "--budgets or --evals" % (s, key))


def find_program(build_dir, name):
    for path in (os.path.join(build_dir, "tools", name), os.path.join(build_dir, name)):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise UsageError("%s is not in %s (looked in %s/tools/ and %s/)\nhint: build it "
                     "(cmake --build %s), or give the build folder with --build-dir"
                     % (name, build_dir, build_dir, build_dir, build_dir))


# ---------------------------------------------------------------------------- the plan

def budget_label(budget):
    return RECIPE_BUDGET if budget is None else budget


def budget_dir(budget):
    return RECIPE_BUDGET if budget is None else "epochs%d" % budget


def row_name(recipe, budget):
    if recipe == RANDOM:
        return RANDOM
    return recipe if budget is None else "%s, %d ep" % (recipe, budget)


def entry_key(recipe, budget, seed, evaluation):
    """What identifies a study.jsonl entry; random's budget is None."""
    return (recipe, None if recipe == RANDOM else budget_label(budget), seed, evaluation)


class Unit:
    """One encoder to evaluate: a recipe's pre-training at (budget, seed), or random's."""

    def __init__(self, recipe, path, budget, seed, out):
        self.recipe, self.path, self.budget, self.seed = recipe, path, budget, seed
        if recipe == RANDOM:
            self.folder = os.path.join(out, "runs", RANDOM, "seed%d" % seed)
        else:
            self.folder = os.path.join(out, "runs", recipe, budget_dir(budget), "seed%d" % seed)
        self.pretrain_dir = os.path.join(self.folder, "pretrain")
        self.checkpoint = os.path.join(self.pretrain_dir, "latest.pt")

    def key(self, evaluation):
        return entry_key(self.recipe, self.budget, self.seed, evaluation)

    def describe(self):
        if self.recipe == RANDOM:
            return "%s seed%d" % (RANDOM, self.seed)
        return "%s %sseed%d" % (self.recipe, "" if self.budget is None else
                                "%dep " % self.budget, self.seed)


def pretrain_command(program, unit, sets):
    cmd = [program, "--config", unit.path, "--set", "train.seed=%d" % unit.seed]
    if unit.budget is not None:
        cmd += ["--set", "train.epochs=%d" % unit.budget]
    for s in sets:
        cmd += ["--set", s]
    return cmd + ["--output-dir", unit.pretrain_dir, "--resume", "auto"]


def eval_command(program, unit, evaluation, config, sets, model):
    cmd = [program, "--config", config]
    if unit.recipe != RANDOM:
        cmd += ["--pretrained", unit.checkpoint]
    cmd += ["--set", "train.seed=%d" % unit.seed]
    for s in sets:
        cmd += ["--set", s]
    for key, value in model:
        cmd += ["--set", "model.%s=%s" % (key, value)]
    cmd += ["--set", "finetune.mode=%s" % evaluation]
    if evaluation in RUN_EVALS:
        cmd += ["--output-dir", os.path.join(unit.folder, evaluation), "--resume", "auto"]
    return cmd


def dump_command(program, path, sets):
    cmd = [program, "--config", path]
    for s in sets:
        cmd += ["--set", s]
    return cmd + ["--dump-config"]


def model_section(yaml_text):
    """[(key, value)] of MODEL_KEYS in the `model:` section of a dumped config, in order."""
    found, inside, indent = {}, False, None
    for line in yaml_text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(line.lstrip(" "))
        if depth == 0:
            if inside:
                break
            inside = stripped.split("#")[0].strip() == "model:"
            continue
        if not inside:
            continue
        if indent is None:
            indent = depth
        if depth != indent or ":" not in stripped:
            continue  # a list item or a nested mapping
        key, _, value = stripped.partition(":")
        value = value.split(" #")[0].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key.strip() in MODEL_KEYS and value:
            found[key.strip()] = value
    return [(k, found[k]) for k in MODEL_KEYS if k in found]


# ---------------------------------------------------------------------------- study.jsonl

def read_entries(path, repair, warn=True):
    """The entries of study.jsonl by key (the last of a key wins). A last line torn by a kill
    is dropped with a warning (and cut from the file when `repair`: only under study.lock,
    since another study may be writing that line)."""
    entries = {}
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return entries
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (path, e.strerror or e))
    complete = data.rfind(b"\n") + 1
    if complete < len(data) and warn:
        sys.stderr.write("study: warning: %s: its last line is incomplete (a kill while it "
                         "was written), ignored\n" % path)
    if complete < len(data) and repair:
        with open(path, "r+b") as f:
            f.truncate(complete)
            f.flush()
            os.fsync(f.fileno())
    bad = 0
    for raw in data[:complete].split(b"\n")[:-1]:
        if not raw.strip():
            continue
        try:
            e = json.loads(raw.decode("utf-8"))
            key = (e["recipe"], e["budget"], e["seed"], e["eval"])
            if not isinstance(e["metrics"], dict) or not isinstance(e["seed"], int):
                raise ValueError
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError):
            bad += 1
            continue
        entries[key] = e
    if bad and warn:
        sys.stderr.write("study: warning: %s: %d undecodable line(s) ignored\n" % (path, bad))
    return entries


def config_key(evaluation):
    """The setting that names an evaluation's c2fmae_finetune config: its study.jsonl key."""
    return "linprobe_config" if evaluation == "linprobe" else "eval_config"


def check_settings(entries, path, recipes, eval_config, linprobe_config, sets):
    """Refuses a study.jsonl whose entries were made with other settings."""
    paths = {name: os.path.abspath(p) for name, p in recipes}
    configs = {"eval_config": ("--eval-config", os.path.abspath(eval_config)),
               "linprobe_config": ("--linprobe-config", os.path.abspath(linprobe_config))}
    for e in entries.values():
        problem = None
        option, config = configs[config_key(e["eval"])]
        if e.get("sets") != sets:
            problem = "--set %s (now %s)" % (" ".join(e.get("sets") or []) or "none",
                                             " ".join(sets) or "none")
        elif e["eval"] != "pretrain" and e.get(config_key(e["eval"])) != config:
            problem = "%s %s" % (option, e.get(config_key(e["eval"])))
        elif e["recipe"] in paths and e.get("config") != paths[e["recipe"]]:
            problem = "recipe %s = %s" % (e["recipe"], e.get("config"))
        if problem:
            raise UsageError("%s holds results made with other settings: %s\nhint: give "
                             "another --out, or the settings it was made with" % (path, problem))


def append_entry(path, entry):
    line = json.dumps(entry, sort_keys=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def finite_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def numbers_of(record):
    return {k: v for k, v in record.items() if finite_number(v)}


def last_json_line(path):
    """The last non-blank line of a program's stdout, as a JSON object, or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
    except OSError:
        return None
    if not lines:
        return None
    try:
        record = json.loads(lines[-1])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def last_record_with(metrics_path, key):
    """The last record of a metrics.jsonl that has a finite `key`, or None."""
    found = None
    try:
        with open(metrics_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn line
                if isinstance(record, dict) and finite_number(record.get(key)):
                    found = record
    except OSError:
        return None
    return found


def tail(path, n):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line.rstrip("\r\n").split("\r")[-1] for line in f]
    except OSError:
        return []
    return [line for line in lines if line.strip()][-n:]


# ---------------------------------------------------------------------------- running

class Runner:
    """Runs the programs one at a time, passing a stop signal on to the running one."""

    def __init__(self):
        self.child = None
        self.stop = 0
        self.start = time.monotonic()

    def install(self):
        for signo in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signo, self.on_signal)

    def on_signal(self, signo, frame):
        if not self.stop:
            sys.stderr.write("\nstudy: %s: stopping after the running program (it saves a "
                             "checkpoint); again to stop it at once\n"
                             % signal.Signals(signo).name)
        self.stop = self.stop or signo
        if self.child is not None and self.child.poll() is None:
            try:
                self.child.send_signal(signo)
            except ProcessLookupError:
                pass

    def elapsed(self):
        s = int(time.monotonic() - self.start)
        return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)

    def run(self, cmd, stdout_path, stderr_path):
        """Runs cmd with its output in the two files; its exit code (128 + N if killed)."""
        os.makedirs(os.path.dirname(stdout_path), exist_ok=True)
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            # A session of its own: a terminal's Ctrl-C reaches it once, through on_signal
            # (a second signal would end it before its checkpoint).
            self.child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=err, start_new_session=True)
            try:
                rc = self.child.wait()
            finally:
                self.child = None
        return 128 - rc if rc < 0 else rc


class Study:
    def __init__(self, args, argv):
        self.args = args
        self.argv = argv
        self.recipes = resolve_recipes(args.recipes)
        self.budgets = resolve_budgets(args.budgets)
        self.evals = resolve_evals(args.evals)
        check_sets(args.sets)
        self.sets = list(args.sets)
        if not os.path.isfile(args.eval_config):
            raise UsageError("--eval-config %s: no such file" % args.eval_config)
        self.eval_config = args.eval_config
        if not os.path.isfile(args.linprobe_config):
            raise UsageError("--linprobe-config %s: no such file" % args.linprobe_config)
        self.linprobe_config = args.linprobe_config
        if not os.path.isdir(args.build_dir):
            raise UsageError("--build-dir %s: no such folder\nhint: build the project "
                             "(scripts/setup.sh), or give its build folder" % args.build_dir)
        self.pretrain = find_program(args.build_dir, "c2fmae_pretrain")
        self.finetune = find_program(args.build_dir, "c2fmae_finetune")
        self.out = args.out
        if os.path.lexists(self.out) and not os.path.isdir(self.out):
            raise UsageError("--out %s exists and is not a folder\nhint: give a new or a "
                             "study's folder" % self.out)
        self.jsonl = os.path.join(self.out, "study.jsonl")
        self.seeds = list(range(args.seeds))
        # Read-only here: the torn line a kill left is cut in run(), under study.lock.
        self.entries = read_entries(self.jsonl, repair=False)
        check_settings(self.entries, self.jsonl, self.recipes, self.eval_config,
                       self.linprobe_config, self.sets)
        self.models = {}  # recipe -> [(key, value)], or None when the dump failed
        self.runner = Runner()
        self.failures = []

    # -- the plan

    def config_of(self, evaluation):
        """The c2fmae_finetune config of an evaluation."""
        return self.linprobe_config if evaluation == "linprobe" else self.eval_config

    def units(self):
        for seed in self.seeds:
            yield Unit(RANDOM, None, None, seed, self.out)
            for budget in self.budgets:
                for name, path in self.recipes:
                    yield Unit(name, path, budget, seed, self.out)

    def pending(self, unit):
        """(whether it pre-trains, the evaluations it runs)."""
        evals = [e for e in self.evals if unit.key(e) not in self.entries]
        pretrains = (unit.recipe != RANDOM and bool(evals) and
                     (unit.key("pretrain") not in self.entries or
                      not os.path.exists(unit.checkpoint)))
        return pretrains, evals

    def model_of(self, unit):
        """The encoder shape the unit's evaluations are given (None if it cannot be read):
        its recipe's, or for random the first recipe's whose config can be read."""
        if unit.recipe != RANDOM:
            return self.recipe_model(unit.recipe, unit.path)
        for name, path in self.recipes:
            model = self.recipe_model(name, path)
            if model is not None:
                return model
        return None

    def recipe_model(self, recipe, path):
        if recipe not in self.models:
            cmd = dump_command(self.pretrain, path, self.sets)
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, universal_newlines=True)
            if result.returncode != 0 and self.runner.stop:
                return None  # a Ctrl-C reached it too: not a failure, asked again next time
            model = model_section(result.stdout) if result.returncode == 0 else None
            if result.returncode != 0 or not model or model[0][0] != "preset":
                lines = result.stderr.strip().splitlines()[-STDERR_TAIL:]
                self.fail(cmd, result.returncode, lines,
                          None if result.returncode else "its output has no model.preset")
                model = None
            else:
                sys.stderr.write("study: model of %s: %s\n" % (
                    recipe, " ".join("%s=%s" % kv for kv in model)))
                known = [(n, m) for n, m in self.models.items() if m is not None]
                if known and known[0][1] != model:
                    sys.stderr.write("study: warning: %s's encoder differs from %s's (the "
                                     "random row has the first recipe's)\n"
                                     % (recipe, known[0][0]))
            self.models[recipe] = model
        return self.models[recipe]

    def fail(self, cmd, rc, lines, why=None):
        self.failures.append(cmd)
        sys.stderr.write("study: FAILED (%s): %s\n" % (why or "exit %d" % rc, shlex.join(cmd)))
        for line in lines:
            sys.stderr.write("    %s\n" % line)

    # -- the run

    def dry_run(self):
        count = done = 0
        for unit in self.units():
            pretrains, evals = self.pending(unit)
            done += len(self.evals) - len(evals)
            if pretrains:
                print(shlex.join(pretrain_command(self.pretrain, unit, self.sets)))
                count += 1
            if not evals:
                continue
            model = self.model_of(unit)
            if model is None:
                continue
            for e in evals:
                print(shlex.join(eval_command(self.finetune, unit, e, self.config_of(e),
                                              self.sets, model)))
                count += 1
        sys.stdout.flush()
        sys.stderr.write("study: %d command(s) to run; %d evaluation(s) already in %s\n"
                         % (count, done, self.jsonl))
        return 1 if self.failures else 0

    def record(self, unit, evaluation, cmd, metrics, seconds):
        entry = {
            "recipe": unit.recipe,
            "budget": None if unit.recipe == RANDOM else budget_label(unit.budget),
            "seed": unit.seed,
            "eval": evaluation,
            "metrics": metrics,
            "command": shlex.join(cmd),
            "seconds": round(seconds, 1),
            "config": None if unit.recipe == RANDOM else os.path.abspath(unit.path),
            "eval_config": None,
            "linprobe_config": None,
            "sets": self.sets,
        }
        if evaluation != "pretrain":
            entry[config_key(evaluation)] = os.path.abspath(self.config_of(evaluation))
            if unit.recipe != RANDOM:
                entry["checkpoint"] = os.path.realpath(unit.checkpoint)
        append_entry(self.jsonl, entry)
        self.entries[unit.key(evaluation)] = entry

    def step(self, unit, what, cmd, index, total):
        """Runs one program call; its metrics, or None when it failed or was stopped."""
        sys.stderr.write("study: [%d/%d] %s %s (%s elapsed)\n"
                         % (index, total, what, unit.describe(), self.runner.elapsed()))
        sys.stderr.flush()
        stdout_path = os.path.join(unit.folder, what + ".stdout")
        stderr_path = os.path.join(unit.folder, what + ".stderr")
        started = time.monotonic()
        rc = self.runner.run(cmd, stdout_path, stderr_path)
        seconds = time.monotonic() - started
        if self.runner.stop and rc != 0:
            return None  # stopped: not a failure, continued by the next run
        if rc != 0:
            lines = tail(stderr_path, STDERR_TAIL) or tail(stdout_path, STDERR_TAIL)
            self.fail(cmd, rc, lines)
            return None
        if what == "pretrain":
            if not os.path.exists(unit.checkpoint):
                self.fail(cmd, rc, [], "it wrote no %s" % unit.checkpoint)
                return None
            last = last_record_with(os.path.join(unit.pretrain_dir, "metrics.jsonl"), "loss")
            metrics = {k: v for k, v in numbers_of(last or {}).items()
                       if k in ("step", "epoch", "loss")}
        elif what in RUN_EVALS:
            last = last_record_with(os.path.join(unit.folder, what, "metrics.jsonl"),
                                    "val_top1")
            if last is None:
                self.fail(cmd, rc, [], "its metrics.jsonl has no val_top1")
                return None
            metrics = numbers_of(last)
        else:
            last = last_json_line(stdout_path)
            if last is None:
                self.fail(cmd, rc, tail(stdout_path, 3),
                          "the last line of its stdout is not a JSON object")
                return None
            metrics = numbers_of(last)
        self.record(unit, what, cmd, metrics, seconds)
        return metrics

    def lock(self):
        """Holds DIR/study.lock for the process's life: a second study on the same --out
        would run the same programs into the same run directories and interleave
        study.jsonl. Raises UsageError (exit 2) naming the holder."""
        path = os.path.join(self.out, "study.lock")
        try:
            # Not through a link: a planted study.lock link must not have its target
            # overwritten.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise UsageError("cannot open %s: %s\nhint: it must be a plain file the study "
                             "can write; remove what is there, or give another --out"
                             % (path, e.strerror or e))
        self.lock_fd = fd  # held open, so locked, until the process ends
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            busy = e.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
            holder = os.read(fd, 64).strip().decode("utf-8", "replace") if busy else ""
            os.close(fd)
            if not busy:
                raise UsageError("cannot lock %s: %s" % (path, e.strerror or e))
            raise UsageError("%s is in use by another study%s; wait for it to end or stop "
                             "it, or give another --out"
                             % (self.out, " (PID %s)" % holder if holder else ""))
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, b"%d\n" % os.getpid(), 0)
        except OSError as e:
            raise UsageError("cannot write %s: %s" % (path, e.strerror or e))

    def run(self):
        try:
            os.makedirs(self.out, exist_ok=True)
        except OSError as e:
            raise UsageError("cannot make --out %s: %s" % (self.out, e.strerror or e))
        self.lock()
        # Under the lock: cut a torn last line, and take entries written since __init__.
        self.entries = read_entries(self.jsonl, repair=True, warn=False)
        check_settings(self.entries, self.jsonl, self.recipes, self.eval_config,
                       self.linprobe_config, self.sets)
        plan = [(unit,) + self.pending(unit) for unit in self.units()]
        total = sum(int(p) + len(e) for _, p, e in plan)
        done = sum(len(self.evals) - len(e) for _, _, e in plan)
        sys.stderr.write("study: %d program call(s) to run; %d evaluation(s) already done\n"
                         % (total, done))
        self.runner.install()
        index = 0
        for unit, pretrains, evals in plan:
            if self.runner.stop:
                break
            if pretrains:
                index += 1
                cmd = pretrain_command(self.pretrain, unit, self.sets)
                if self.step(unit, "pretrain", cmd, index, total) is None:
                    if not self.runner.stop and evals:
                        sys.stderr.write("study: skipping the evaluations of %s\n"
                                         % unit.describe())
                    index += len(evals)
                    continue
            model = self.model_of(unit) if evals else []
            for e in evals:
                index += 1
                if self.runner.stop:
                    break
                if model is None:
                    continue  # counted as failed once, at the dump
                cmd = eval_command(self.finetune, unit, e, self.config_of(e), self.sets,
                                   model)
                self.step(unit, e, cmd, index, total)
            self.write_table()
        rc = self.write_table(picture=True)
        if self.runner.stop:
            sys.stderr.write("study: stopped by %s; run the same command to continue\n"
                             % signal.Signals(self.runner.stop).name)
            return 128 + self.runner.stop
        if self.failures:
            sys.stderr.write("study: %d program call(s) failed (listed above); the table has "
                             "the rest\n" % len(self.failures))
            return 1
        sys.stderr.write("study: done in %s%s\n" % (self.runner.elapsed(), "" if rc == 0 else
                                                    ", study.png not written"))
        return rc

    # -- the table

    def rows(self):
        """[(label, recipe, budget)] in the table's order."""
        rows = [(RANDOM, RANDOM, None)]
        for name, _ in self.recipes:
            for budget in self.budgets:
                rows.append((row_name(name, budget), name, budget))
        return rows

    def columns(self):
        return [c for c in COLUMNS if c[0] in self.evals]

    def summary(self):
        """The table as numbers: {label: {column: [values]}}, {column: [priors]}."""
        values, priors = {}, {}
        for label, recipe, budget in self.rows():
            values[label] = {}
            for col in self.columns():
                evaluation, key, _ = col
                found = []
                for seed in self.seeds:
                    e = self.entries.get(entry_key(recipe, budget, seed, evaluation))
                    if e is None:
                        continue
                    m = e["metrics"]
                    if finite_number(m.get(key)):
                        found.append(float(m[key]))
                    for prior_key in ("prior_" + key,) + (
                            ("prior_top1",) if key == "val_top1" else ()):
                        if finite_number(m.get(prior_key)):
                            priors.setdefault(col, []).append(float(m[prior_key]))
                            break
                values[label][col] = found
        return values, priors

    def command_line(self):
        exe = sys.executable or "python3"
        rel = os.path.relpath(exe)
        if not rel.startswith(".."):
            exe = rel if os.sep in rel else "./" + rel
        return shlex.join([exe, sys.argv[0]] + self.argv)

    def write_table(self, picture=False):
        values, priors = self.summary()
        cols = self.columns()
        if "linprobe" not in self.evals:
            configs = "--config %s" % self.eval_config
        elif self.evals == ["linprobe"]:
            configs = "--config %s" % self.linprobe_config
        else:
            configs = "--config %s (the linear probe: --config %s)" % (self.eval_config,
                                                                      self.linprobe_config)
        lines = ["# Representation study", "", "Made by:", "",
                 "    " + self.command_line(), "",
                 "Each recipe pre-trained with seeds %s and its encoder evaluated with "
                 "c2fmae_finetune %s; \"random\": the same evaluations of a randomly "
                 "initialised encoder; \"prior\": the figure of always answering the most "
                 "frequent class, as the evaluations report it. Figures in %% (as the programs "
                 "report them), mean ± sample standard deviation over the seeds done (n)."
                 % (",".join(map(str, self.seeds)), configs), ""]
        lines.append("| row | " + " | ".join(c[2] for c in cols) + " |")
        lines.append("|---|" + "---:|" * len(cols))
        if priors:
            cells = []
            for col in cols:
                p = priors.get(col)
                cells.append("%.2f" % (sum(p) / len(p)) if p else "—")
            lines.append("| prior | " + " | ".join(cells) + " |")
        for label, _, _ in self.rows():
            cells = []
            for col in cols:
                v = values[label][col]
                if not v:
                    cells.append("—")
                    continue
                mean, std = mean_std(v)
                cells.append("%.2f ± %s (%d)" % (mean, "%.2f" % std if len(v) > 1 else "0",
                                                 len(v)))
            lines.append("| " + label + " | " + " | ".join(cells) + " |")
        expected = len(self.seeds) * len(self.rows()) * len(self.evals)
        have = sum(1 for _, recipe, budget in self.rows() for s in self.seeds
                   for e in self.evals if entry_key(recipe, budget, s, e) in self.entries)
        lines += ["", "%d of %d evaluations done; results in study.jsonl, runs in runs/."
                  % (have, expected), ""]
        write_atomically(os.path.join(self.out, "study.md"), "\n".join(lines).encode("utf-8"))
        if not picture:
            return 0
        return draw(values, priors, cols, [label for label, _, _ in self.rows()],
                    os.path.join(self.out, "study.png"))


def mean_std(values):
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def write_atomically(path, data):
    """Writes through a temporary file renamed into place: no reader sees half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".study-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def draw(values, priors, cols, labels, path):
    """The grouped bar chart: a group per column, a bar per row; 0 written, 1 not."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:
        sys.stderr.write("error: matplotlib is not installed for %s (%s); scripts/setup.sh "
                         "installs it into .venv. study.png not written\n"
                         % (sys.executable, e))
        return 1
    fig = Figure(figsize=(max(8.0, 1.6 + 0.35 * len(labels) * len(cols)), 5.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(labels)
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, label in enumerate(labels):
        xs, heights, errs = [], [], []
        for g, col in enumerate(cols):
            v = values[label][col]
            if v:
                mean, std = mean_std(v)
                xs.append(g - 0.4 + width * (i + 0.5))
                heights.append(mean)
                errs.append(std)
        color = "0.6" if label == RANDOM else colors[(i - 1) % len(colors)]
        # Every row in the legend, even one with no figure yet.
        ax.bar(xs, heights, width, yerr=errs, capsize=2, label=label, color=color,
               hatch="//" if label == RANDOM else None, edgecolor="white", linewidth=0.5)
    for g, col in enumerate(cols):
        p = priors.get(col)
        if p:
            ax.hlines(sum(p) / len(p), g - 0.45, g + 0.45, colors="black", linestyles="dashed",
                      linewidth=1.2, label="prior" if not any(
                          c in priors for c in cols[:g]) else None)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([c[2] for c in cols])
    ax.set_xlim(-0.5, len(cols) - 0.5)
    ax.set_ylabel("%  (mean ± std over seeds)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small", ncol=2 if len(labels) > 6 else 1, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    if not any(values[label][col] for label in labels for col in cols):
        ax.text(0.5, 0.5, "no results yet", transform=ax.transAxes, ha="center")
    ax.set_title("representation study")
    fig.tight_layout()
    try:
        write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=100))
    except OSError as e:
        sys.stderr.write("error: cannot write %s: %s\n" % (path, e.strerror or e))
        return 1
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        study = Study(args, argv)
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    try:
        if args.dry_run:
            return study.dry_run()
        return study.run()
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    except OSError as e:  # a full disk, a folder that went away: one line, not a traceback
        sys.stderr.write("error: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
