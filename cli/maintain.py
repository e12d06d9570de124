"""`imbalance verify` and `imbalance prune`: check runs against their manifests, drop old ones."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.inspect import (
    add_artifacts_dir,
    files_recorded,
    open_run,
    size_text,
    table,
    user_error,
)
from imbalance import store
from imbalance.store import ArtifactStore, StateFileError, retention


def register(subparsers) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="check a run's files against its manifest",
        description="Recompute each file's sha256 and size and compare them with manifest.json; "
        "exit 1 if any file is missing, altered, truncated or not in the manifest.",
    )
    verify.add_argument("ref", metavar="RUN", help="a run id, `latest`, `champion` or `all`")
    add_artifacts_dir(verify)
    verify.set_defaults(handler=handle_verify)

    prune = subparsers.add_parser(
        "prune",
        help="delete old complete runs (never a champion's) and old failed or killed ones",
        description="Delete all but the newest N complete runs; the runs of the champion and of "
        "every earlier champion (champion-history.jsonl) are never deleted. Also delete failed "
        "or killed runs left in staging that nothing has touched for D days.",
    )
    prune.add_argument("--keep", type=int, metavar="N", help="newest complete runs to keep")
    prune.add_argument(
        "--staging-days",
        type=float,
        default=7.0,
        metavar="D",
        help="delete failed or killed runs untouched for D days (default: 7)",
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    add_artifacts_dir(prune)
    prune.set_defaults(handler=handle_prune)


# --- imbalance verify -------------------------------------------------------------------


def check_files(root: Path, recorded: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """Return (problem, detail) for each file that differs from the manifest's record."""
    problems = []
    for rel, want in recorded.items():
        path = root / rel
        if not path.is_file():
            problems.append(("missing", rel))
            continue
        got = store.file_digest(path)
        if got["bytes"] < want["bytes"]:
            problems.append(("truncated", f"{rel} ({got['bytes']:,} of {want['bytes']:,} bytes)"))
        elif got["sha256"] != want["sha256"]:
            size = "same size" if got["bytes"] == want["bytes"] else f"{got['bytes']:,} bytes"
            problems.append(("altered", f"{rel} (sha256 differs, {size})"))
    for rel in store.list_files(root):
        if str(rel) not in recorded:
            problems.append(("not in manifest", str(rel)))
    return problems


def verify_run(root: Path) -> tuple[int, list[tuple[str, str]]]:
    """Return (files recorded, problems) of the run in `root`."""
    try:
        manifest = store.read_json(root / store.MANIFEST)
    except FileNotFoundError:
        return 0, [("missing", store.MANIFEST)]
    except (OSError, ValueError) as exc:
        return 0, [("unreadable", f"{store.MANIFEST}: {exc}")]
    if not files_recorded(manifest):
        return 0, [("damaged", f"{store.MANIFEST}: no list of files with sha256 and bytes")]
    return len(manifest["files"]), check_files(root, manifest["files"])


def handle_verify(args: argparse.Namespace) -> int:
    artifacts = ArtifactStore(args.artifacts_dir)
    try:
        artifacts.recover()  # a promotion a killed run left half done is completed first
    except StateFileError as exc:
        print(exc)
        return 1
    if args.ref == "all":
        roots = [artifacts.runs_dir / run_id for run_id in artifacts.run_ids()]
        if not roots:
            print(f"no complete runs under {args.artifacts_dir}")
    else:
        roots = [open_run(artifacts, args.ref)[0].root]
    failed = 0
    for root in roots:
        count, problems = verify_run(root)
        failed += bool(problems)
        if not problems:
            print(f"{root.name}  ok ({count} files)")
            continue
        print(f"{root.name}  {len(problems)} problem{'s' if len(problems) > 1 else ''}")
        print(table([[f"  {kind}", detail] for kind, detail in problems]))
    state_problems = artifacts.state_problems() if args.ref == "all" else []
    if args.ref == "all":
        state_problems += unrecorded_promotions(artifacts)
    for problem in state_problems:
        print(problem)
    if failed or state_problems:
        print(f"verify: {failed} of {len(roots)} runs differ from their manifest")
        return 1
    return 0


def unrecorded_promotions(artifacts: ArtifactStore) -> list[str]:
    """Return a line per run that says "Promoted" but is not in the champion history.

    The one way to get there: a run killed after its move into runs/ and before
    champion.json was written. Runs older than the history's first entry predate it.
    """
    try:
        history = artifacts.champion_history()
    except StateFileError:
        return []  # state_problems names it
    if not history:
        return []
    promoted = {(e.run_id, e.variant) for e in history if e.action == "promote"}
    first = history[0].run_id
    problems = []
    for run_id in artifacts.run_ids():
        if run_id <= first:
            continue
        try:
            claimed = store.read_record(artifacts.complete(run_id).manifest).claims_promotion
        except StateFileError:
            continue  # no decision to check (verify names a damaged manifest)
        if claimed and claimed not in promoted:
            problems.append(
                f"run {run_id} says Promoted, but champion-history.jsonl has no such promotion "
                "(champion.json or the history could not be written?)"
            )
    return problems


# --- imbalance prune --------------------------------------------------------------------


def handle_prune(args: argparse.Namespace) -> int:
    if args.keep is not None and args.keep < 1:
        raise user_error(f"--keep must be at least 1 (the newest run stays), got {args.keep}")
    if args.staging_days < 0:
        raise user_error(f"--staging-days must be 0 or more, got {args.staging_days}")
    artifacts = ArtifactStore(args.artifacts_dir)
    if not artifacts.root.is_dir():
        raise user_error(f"no artifacts folder {artifacts.root}: nothing to prune")
    try:
        if args.dry_run:
            # Deletes nothing, so it needs no lock (and works on a read-only store).
            done: retention.RetentionPlan | retention.RetentionResult = retention.plan(
                artifacts, args.keep, args.staging_days
            )
        else:
            # apply checks each run again under the store's lock: a run being promoted
            # right now is never deleted. A deliberate act: staging folders of any age
            # may go (no MIN_STAGING_AGE).
            planned = retention.plan(artifacts, args.keep, args.staging_days)
            done = retention.apply(artifacts, planned)
    except StateFileError as exc:
        raise user_error(f"cannot tell which runs were champions, nothing deleted: {exc}") from None
    verb = "would delete" if args.dry_run else "deleted"
    for runs, kind in ((done.runs, ""), (done.staging, ", failed or killed")):
        for run in runs:
            print(f"{verb} {run.run_id} ({size_text(run.bytes)}{kind})")
    for run_id in done.skipped if isinstance(done, retention.RetentionResult) else ():
        print(f"skipped {run_id} (gone or in use since the plan)")
    count = len(done.runs) + len(done.staging)
    protected = done.protected
    note = f"; champions' runs kept: {', '.join(sorted(protected))}" if protected else ""
    runs = f"{count} run" + ("" if count == 1 else "s")
    print(f"{verb} {runs} ({size_text(done.freed)}), {done.kept} complete runs left{note}")
    return 0
