"""The store: the one owner of `artifacts/` (its layout in `layout`), split by concern.

    layout      every path: the runs' files (RunPaths) and the shared ones
    files       atomic writes of JSON, text, Parquet and models; digests
    lock        the store's lock (pointers only) and a run's running mark
    records     the typed records on disk: RunFacts, RunRecord, ChampionRecord, HistoryEntry
    pointers    champion.json, champion-history.jsonl, latest.json
    commit      a promotion as one step (write-ahead commit.json) and its recovery
    runs        ArtifactStore: stage, complete, find, trust and delete runs
    retention   which runs to keep, and deleting the others
    staged      a run from staging to complete, where the champion decision takes effect
    provenance  what a run was made with (versions, git commit) and its id

What the tasks, the flow and the CLI use is exported here: the store, the run's
paths, its errors and records, and the file functions (`store.write_json(...)`).
"""

from imbalance.store.files import (
    METADATA_KEY,
    MODEL_METADATA,
    file_digest,
    list_files,
    load_model,
    model_metadata,
    parquet_metadata,
    read_json,
    read_keys,
    read_parquet,
    read_training_part,
    save_model,
    write_bytes,
    write_json,
    write_parquet,
    write_table,
    write_text,
)
from imbalance.store.layout import MANIFEST, RunPaths
from imbalance.store.records import (
    ChampionRecord,
    GateScore,
    HistoryEntry,
    RunFacts,
    RunRecord,
    StateFileError,
)
from imbalance.store.runs import ArtifactStore, RunNotFoundError, read_record

__all__ = [
    "MANIFEST",
    "METADATA_KEY",
    "MODEL_METADATA",
    "ArtifactStore",
    "ChampionRecord",
    "GateScore",
    "HistoryEntry",
    "RunFacts",
    "RunNotFoundError",
    "RunPaths",
    "RunRecord",
    "StateFileError",
    "file_digest",
    "list_files",
    "load_model",
    "model_metadata",
    "parquet_metadata",
    "read_json",
    "read_parquet",
    "read_record",
    "read_training_part",
    "read_keys",
    "save_model",
    "write_bytes",
    "write_json",
    "write_parquet",
    "write_table",
    "write_text",
]
