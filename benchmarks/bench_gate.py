"""The champion gate's operating characteristic: how often the project's own rule promotes.

Issue 23's gate, measured as the flow runs it. Per trial (its own data seed): draw the
tutorial's data, key each row (`row_keys` of its features and label) and put the
`gate.share` of them the hash picks in the gate (`in_gate`), never trained on. Train, on
the other rows, with the project's batched trainer (one call for the three models on all
training rows, one for the tenth): two strong models (the default job: 2-2-1 network,
50 epochs, batch 100, balanced class weights; other initial-weight seeds) and two weak
ones (a tenth of the training rows; or 2 epochs). Score all on the gate rows, bootstrap
the paired difference candidate - champion of `selection.metric`
(`paired_bootstrap`, 1,000 resamples as tasks/champion.py) and decide with
`imbalance.selection.champion.decide` at the config's defaults (`RetrainConfig().gate`).

Scenarios (candidate against champion):
  better_tenth  strong against one trained on a tenth of the rows  (other rows: newer data)
  better_2ep    strong against one trained 2 epochs               (same rows: not newer)
  equal         strong against strong, another initial seed       (same rows: not newer)
  worse_tenth   tenth-of-rows against strong                      (other rows: newer data)
  worse_2ep     2 epochs against strong                           (same rows: not newer)
The candidate's as_of is always a day after the champion's, and `trained_rows` is the
digest of the keys each model trained on, so the rule's `newer_data` decides as in the
flow: newer (non-inferiority with `gate.margin` suffices) only when the rows differ.

The 2-2-1 network sometimes dies (constant output), so a "better" candidate is not always
better: "works" counts the trials whose strong model(s) have a true ROC AUC >= 0.6. True
metrics are measured on a large extra sample (--truth-rows) of the same generator call.

Writes benchmarks/results/bench_gate.json (per-trial numbers) and bench_gate.md (tables).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imbalance.config import RetrainConfig  # noqa: E402
from imbalance.data.generator import features_and_labels, make_dataset  # noqa: E402
from imbalance.data.split import in_gate, keys_digest, row_keys  # noqa: E402
from imbalance.selection.bootstrap import paired_bootstrap  # noqa: E402
from imbalance.selection.champion import decide  # noqa: E402
from imbalance.selection.decision import Candidate, Incumbent  # noqa: E402
from imbalance.selection.weights import balanced_class_weights  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RESAMPLES = 1000  # = tasks.champion.BOOTSTRAP_RESAMPLES (not imported: it pulls in Prefect)
WORKS = 0.6  # true ROC AUC of a model that learned something
TARGETS = {"better": (">=", 0.90), "worse": ("<=", 0.05)}
CLEAR = 0.01  # a true difference this large in the named direction: the name holds
CHAMPION_AS_OF, CANDIDATE_AS_OF = "2026-01-01T00:00:00", "2026-01-02T00:00:00"
MODELS = ("strong_a", "strong_b", "tenth", "two_epochs")
SCENARIOS = {  # name: (candidate, champion, what it means)
    "better_tenth": ("strong_a", "tenth", "strong vs a tenth of the rows; other rows: newer"),
    "better_2ep": ("strong_a", "two_epochs", "strong vs 2 epochs; same rows: not newer"),
    "equal": ("strong_b", "strong_a", "same job and rows, another seed: not newer"),
    "worse_tenth": ("tenth", "strong_a", "a tenth of the rows vs strong; other rows: newer"),
    "worse_2ep": ("two_epochs", "strong_a", "2 epochs vs strong; same rows: not newer"),
}
BIN_EDGES = (-0.04, -0.01, 0.01, 0.04)  # of the true difference in the metric
DEFAULT_SIZES = "10000:0.03,100000:default"
DEFAULT_TRIALS = 40


def parse_sizes(text: str) -> list[tuple[int, float | None]]:
    """Return (rows, minority_fraction or None for the generator's default) per size."""
    sizes = []
    for part in text.split(","):
        rows, _, share = part.strip().partition(":")
        sizes.append((int(rows), None if share in ("", "default") else float(share)))
    return sizes


def trial(
    t: int, rows: int, share: float | None, truth_rows: int, programs, hidden_units: int = 0
) -> dict:
    """Train the four models of one trial and decide every scenario by the project's rule."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from imbalance.model.batched import train_batched
    from imbalance.model.predict import score_members
    from imbalance.model.training import initial_weights

    generator = {"n_samples": rows + truth_rows, "seed": 1000 + t}
    if share is not None:
        generator["minority_fraction"] = share
    network = {"hidden_units": hidden_units} if hidden_units else {}
    cfg = RetrainConfig(generator=generator, network=network)
    gate_cfg, metric = cfg.gate, cfg.selection.metric
    # One draw of the generator, split at random: the run's table, and a large sample of
    # the same distribution that measures each model's true metric.
    whole = make_dataset(cfg)
    pick = np.random.default_rng(t).permutation(len(whole))
    frame = whole.iloc[pick[:rows]].reset_index(drop=True)
    x, y = features_and_labels(frame)
    x_true, y_true = features_and_labels(whole.iloc[pick[rows:]])
    keys = row_keys(frame, ["x1", "x2", "label"])  # the flow's key with no id_column
    gate = in_gate(keys, gate_cfg.share)
    train = np.flatnonzero(~gate)
    n_tenth = int(0.1 * (1 - gate_cfg.share) * rows)  # fixed: one compiled shape for all trials
    tenth = np.sort(np.random.default_rng(10 * t + 3).choice(train, n_tenth, replace=False))
    started = time.perf_counter()
    common = dict(
        batch_size=cfg.training.batch_size,
        learning_rate=cfg.network.learning_rate,
        seed=t,
        programs=programs,
    )
    epochs = cfg.training.epochs
    init = [initial_weights(cfg, x.shape[1], 10 * t + k) for k in range(4)]
    full = train_batched(
        init[:2] + init[3:],
        x[train],
        y[train],
        [balanced_class_weights(y[train].astype(int))] * 3,
        epochs=[epochs, epochs, 2],
        **common,
    )
    small = train_batched(
        [init[2]],
        x[tenth],
        y[tenth],
        [balanced_class_weights(y[tenth].astype(int))],
        epochs=epochs,
        **common,
    )
    weights = dict(zip(MODELS, [*full.weights[:2], small.weights[0], full.weights[2]], strict=True))
    train_seconds = time.perf_counter() - started
    digests = {"strong_a": keys_digest(keys[train]), "tenth": keys_digest(keys[tenth])}
    digests |= {"strong_b": digests["strong_a"], "two_epochs": digests["strong_a"]}

    y_gate = y[gate].astype(int)
    gate_scores = dict(zip(MODELS, score_members(list(weights.values()), x[gate]), strict=True))
    true_scores = score_members(list(weights.values()), x_true)
    true = {
        m: {
            "roc_auc": float(roc_auc_score(y_true, s)),
            "pr_auc": float(average_precision_score(y_true, s)),
        }
        for m, s in zip(MODELS, true_scores, strict=True)
    }
    started = time.perf_counter()
    scenarios = {}
    for name, (cand, champ, _) in SCENARIOS.items():
        comparison = paired_bootstrap(
            y_gate, gate_scores[cand], gate_scores[champ], metric, resamples=RESAMPLES, seed=t
        )
        decision = decide(
            Candidate(
                run_id=f"trial{t}",
                variant=cand,
                score=comparison.candidate,
                gate_score=comparison.candidate,
                threshold=0.5,
                as_of=CANDIDATE_AS_OF,
                trained_rows=digests[cand],
            ),
            Incumbent(
                run_id=f"champion{t}",
                variant=champ,
                recorded_metric=metric,
                score=comparison.incumbent,
                threshold=0.5,
                as_of=CHAMPION_AS_OF,
                trained_rows=digests[champ],
                trained_on_gate=0,
            ),
            comparison,
            metric=metric,
            min_improvement=gate_cfg.min_improvement,
            margin=gate_cfg.margin,
            min_positives=gate_cfg.min_positives,
            gate_rows=int(gate.sum()),
            gate_positives=int(y_gate.sum()),
        )
        needs = [m for m in (cand, champ) if m.startswith("strong")]
        scenarios[name] = {
            "promoted": decision.promoted,
            "rule": decision.rule,
            "candidate": comparison.candidate,
            "champion": comparison.incumbent,
            "difference": comparison.difference,
            "low": comparison.low,
            "high": comparison.high,
            "true_difference": true[cand][metric] - true[champ][metric],
            "works": all(true[m]["roc_auc"] >= WORKS for m in needs),
        }
    return {
        "trial": t,
        "rows": rows,
        "gate_rows": int(gate.sum()),
        "gate_positives": int(y_gate.sum()),
        "train_rows": len(train),
        "tenth_rows": n_tenth,
        "positives_share": float(y.mean()),
        "train_seconds": round(train_seconds, 3),
        "bootstrap_seconds": round(time.perf_counter() - started, 3),
        "true": true,
        "scenarios": scenarios,
    }


def rate(recs: list[dict]) -> str:
    if not recs:
        return "– (n 0)"
    return f"{100 * np.mean([r['promoted'] for r in recs]):.0f}% (n {len(recs)})"


def meets(recs: list[dict], op: str, bar: float) -> str:
    if not recs:
        return "–"
    share = np.mean([r["promoted"] for r in recs])
    return "pass" if (share >= bar if op == ">=" else share <= bar) else "FAIL"


def size_label(rows: int, share: float | None, results: list[dict]) -> str:
    asked = "generator default" if share is None else f"{share:g}"
    actual = np.mean([r["positives_share"] for r in results])
    return f"{rows:,} rows, minority_fraction {asked} ({actual:.2%} positive)"


def tables(report: dict, cfg: RetrainConfig) -> str:
    """Return the markdown of a report (what main writes to bench_gate.json)."""
    sizes = report["sizes"]
    g = cfg.gate
    lines = [
        f"# Champion gate: promotion rates of `decide` at the defaults ({cfg.selection.metric}, "
        f"gate share {g.share:g}, min_improvement {g.min_improvement:g}, margin {g.margin:g}, "
        f"min_positives {g.min_positives}; {RESAMPLES} resamples)",
        "",
        "Candidate's as_of a day after the champion's; newer data = other training rows. "
        f"Network: {report.get('hidden_units', 2)} hidden units per layer, "
        f"{cfg.training.epochs} epochs.",
        "",
        "| scenario | candidate vs champion |",
        "|---|---|",
        *[f"| {n} | {what} |" for n, (_, _, what) in SCENARIOS.items()],
        "",
        f"'works': the strong model(s) of the trial have true ROC AUC >= {WORKS} (the 2-2-1 "
        "network sometimes dies). 'truly as named': works, and the candidate's true metric "
        f"is at least {CLEAR:g} above (better) or below (worse) the champion's: a strong model "
        "that works can still be truly worse than a weak one (another seed's poorer optimum), "
        "or no better. Targets: better >= 90%, worse <= 5%.",
    ]
    for key, block in sizes.items():
        results = block["results"]
        pos = [r["gate_positives"] for r in results]
        lines += [
            "",
            f"## {key}",
            "",
            f"{len(results)} trials; gate rows {np.mean([r['gate_rows'] for r in results]):,.0f}, "
            f"positive gate rows mean {np.mean(pos):.0f} (min {min(pos)}, max {max(pos)}); "
            f"{block['seconds']:.0f} s",
            "",
            "| scenario | promoted (all) | promoted (works) | true difference, median (works) "
            "| promoted (truly as named) | target | met (works) | met (truly as named) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name in SCENARIOS:
            recs = [r["scenarios"][name] for r in results]
            ok = [r for r in recs if r["works"]]
            kind = name.split("_")[0]
            target, met, met_named, named = "", "", "", "–"
            if kind in TARGETS:
                op, bar = TARGETS[kind]
                sign = 1 if kind == "better" else -1
                truly = [r for r in ok if sign * r["true_difference"] >= CLEAR]
                target, named = f"{op} {100 * bar:.0f}%", rate(truly)
                met, met_named = (meets(group, op, bar) for group in (ok, truly))
            median = f"{np.median([r['true_difference'] for r in ok]):+.4f}" if ok else "–"
            lines.append(
                f"| {name} | {rate(recs)} | {rate(ok)} | {median} | {named} | {target} | {met} "
                f"| {met_named} |"
            )
        edges = BIN_EDGES
        labels = [f"< {edges[0]:+g}"]
        labels += [f"[{a:+g}, {b:+g})" for a, b in itertools.pairwise(edges)]
        labels += [f">= {edges[-1]:+g}"]
        pairs = [r["scenarios"][n] for r in results for n in SCENARIOS]
        which = np.digitize([p["true_difference"] for p in pairs], edges)
        lines += [
            "",
            f"By TRUE difference in {cfg.selection.metric} (candidate - champion, on the extra "
            "sample), all scenarios and trials pooled:",
            "",
            "| true difference | pairs | promoted | by superior | by non-inferior |",
            "|---|---|---|---|---|",
        ]
        for b, label in enumerate(labels):
            inside = [p for p, w in zip(pairs, which, strict=True) if w == b]
            if not inside:
                lines.append(f"| {label} | 0 | – | – | – |")
                continue
            rules = [p["rule"] for p in inside if p["promoted"]]
            lines.append(
                f"| {label} | {len(inside)} | {100 * np.mean([p['promoted'] for p in inside]):.0f}%"
                f" | {rules.count('superior')} | {rules.count('non-inferior')} |"
            )
    lines += ["", f"Total {report['seconds']:.0f} s ({report['machine']}), {report['when']}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--trials", type=int, default=DEFAULT_TRIALS, help=f"per size ({DEFAULT_TRIALS})"
    )
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"rows:minority_fraction, comma-separated; 'default' = the generator's "
        f"({DEFAULT_SIZES})",
    )
    parser.add_argument("--truth-rows", type=int, default=200_000, help="rows of true metrics")
    parser.add_argument(
        "--out", default=str(RESULTS / "bench_gate.json"), help="JSON path (.md beside it)"
    )
    parser.add_argument("--render", help="only write the tables of this JSON (no training)")
    parser.add_argument(
        "--hidden-units",
        type=int,
        default=0,
        help="units of the network's hidden layers (0: the config's default, the tutorial's 2)",
    )
    args = parser.parse_args()
    cfg = RetrainConfig()
    if args.render:
        report = json.loads(Path(args.render).read_text())
        write_markdown(report, Path(args.render), cfg)
        return

    from imbalance.model.loop import Programs

    programs = Programs()
    sizes: dict[str, dict] = {}
    t0 = time.perf_counter()
    for rows, share in parse_sizes(args.sizes):
        started = time.perf_counter()
        results = []
        for t in range(args.trials):
            r = trial(t, rows, share, args.truth_rows, programs, args.hidden_units)
            results.append(r)
            print(
                f"{rows:,} trial {t}: {r['gate_positives']} positive gate rows, train "
                f"{r['train_seconds']:.1f} s, bootstrap {r['bootstrap_seconds']:.1f} s; "
                + " ".join(
                    f"{n}={'P' if s['promoted'] else '-'}{s['low']:+.3f}"
                    for n, s in r["scenarios"].items()
                ),
                flush=True,
            )
        key = size_label(rows, share, results)
        sizes[key] = {
            "rows": rows,
            "minority_fraction": share,
            "seconds": round(time.perf_counter() - started, 1),
            "results": results,
        }
    total = time.perf_counter() - t0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "when": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "metric": cfg.selection.metric,
        "gate": cfg.gate.model_dump(),
        "resamples": RESAMPLES,
        "works_roc_auc": WORKS,
        "trials": args.trials,
        "hidden_units": args.hidden_units or cfg.network.hidden_units,
        "truth_rows": args.truth_rows,
        "seconds": round(total, 1),
        "scenarios": {n: {"candidate": c, "champion": i} for n, (c, i, _) in SCENARIOS.items()},
        "sizes": sizes,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(report, out, cfg)


def write_markdown(report: dict, out: Path, cfg: RetrainConfig) -> None:
    markdown = tables(report, cfg)
    out.with_suffix(".md").write_text(markdown + "\n")
    print("\n" + markdown)


if __name__ == "__main__":
    main()
