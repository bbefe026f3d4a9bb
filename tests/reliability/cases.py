"""The reliability battery's table: bad inputs for every command and the Python API.

Each :class:`Case` runs through the real CLI entry (``satsr.cli.main``) or calls the library;
the battery asserts: exit status != 0 (``code`` when given), exactly one line on stderr, no
traceback, the message contains ``fragment`` (case-insensitive), and ``final`` (the output path
the command would have written) does not exist afterwards.

``argv`` items are formatted with the workspace paths (``tests/reliability/workspace.py``) and
``w``, the case's own empty folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One bad input and what a clean refusal of it looks like."""

    id: str
    argv: tuple[str, ...] = ()
    fragment: str = ""
    code: int | None = 2          # expected exit status; None: any non-zero
    final: str | None = None      # must not exist afterwards (formatted like argv)
    copy: tuple[str, str] | None = None  # (workspace name, path under w) copied in first
    patch: str | None = None      # "readonly:<rel>" or "interrupt:<module>:<attr>"
    api: Callable[[], object] | None = None  # a library call that must raise SatsrError
    known: str = ""               # why this case still fails (owner, issue item); xfail in pytest



FETCH = ("fetch", "--source", "local", "--local-dir", "{w}/no-source", "--bbox",
         "10.0,50.0,10.05,50.05", "--start", "2023-10-01", "--end", "2023-10-31",
         "--out", "{w}/chips", "--no-progress")
BENCH = ("bench", "--models", "bicubic", "--dataset", "{store}", "--out", "{w}/res",
         "--no-progress", "--no-strips")
TRAIN = ("train", "--model", "srcnn", "--dataset", "{store}", "--out", "{w}/run",
         "--no-progress", "--patch", "4")


def _with(base: tuple[str, ...], *extra: str) -> tuple[str, ...]:
    return (*base, *extra)


def _fetch(id: str, fragment: str, *extra: str, code: int | None = 2, **kw: object) -> Case:
    return Case(f"fetch-{id}", _with(FETCH, *extra), fragment, code, "{w}/chips", **kw)  # type: ignore[arg-type]


def _bench(id: str, fragment: str, *extra: str, code: int | None = 2, final: str = "{w}/res",
           **kw: object) -> Case:
    return Case(f"bench-{id}", _with(BENCH, *extra), fragment, code, final, **kw)  # type: ignore[arg-type]


def _train(id: str, fragment: str, *extra: str, code: int | None = 2, **kw: object) -> Case:
    return Case(f"train-{id}", _with(TRAIN, *extra), fragment, code, "{w}/run", **kw)  # type: ignore[arg-type]


USAGE = [
    Case("usage-unknown-option", ("bench", "--bogus"), "no such option --bogus"),
    Case("usage-unknown-option-models", ("models", "--sacle", "3"), "no such option"),
    Case("usage-option-needs-value", ("train", "--model"), "requires an argument"),
    Case("usage-missing-argument", ("datasets", "download"), "missing argument"),
    Case("usage-missing-report-argument", ("report",), "missing argument"),
    Case("usage-missing-option", ("fetch", "--start", "2023-01-01"), "--end"),
    Case("usage-unknown-command", ("frobnicate",), "no such command"),
    Case("usage-unknown-subcommand", ("datasets", "frob"), "no such command"),
    Case("usage-batch-size-abc", ("bench", "--batch-size", "abc"), "--batch-size"),
    Case("usage-steps-float", ("train", "--steps", "1.5"), "--steps"),
    Case("usage-chip-32px", ("fetch", "--chip", "32px", "--start", "2023-01-01", "--end",
                             "2023-01-02"), "--chip"),
    Case("usage-scale-word", ("models", "--scale", "three"), "--scale"),
    Case("usage-lr-word", ("train", "--lr", "fast"), "--lr"),
    Case("usage-max-cloud-word", ("fetch", "--max-cloud", "some", "--start", "2023-01-01",
                                  "--end", "2023-01-02"), "--max-cloud"),
    Case("usage-extra-argument", ("models", "edsr", "rdn"), "unexpected extra argument"),
]

FETCH_CASES = [
    _fetch("tile-chips-0", "--tile-chips", "--tile-chips", "0"),
    _fetch("tile-chips-neg", "--tile-chips", "--tile-chips", "-1"),
    _fetch("pair-days-nan", "--pair-days", "--pair-days", "nan"),
    _fetch("pair-days-inf", "--pair-days", "--pair-days", "inf"),
    _fetch("pair-days-neg", "--pair-days", "--pair-days", "-2"),
    _fetch("max-shift-nan", "--max-shift", "--max-shift", "nan"),
    _fetch("max-shift-neg", "--max-shift", "--max-shift", "-1"),
    _fetch("max-area-nan", "--max-area-km2", "--max-area-km2", "nan"),
    _fetch("max-area-neg", "--max-area-km2", "--max-area-km2", "-5"),
    _fetch("max-area-zero", "--max-area-km2", "--max-area-km2", "0"),
    _fetch("split-fractions-nan", "--split-fractions", "--split-fractions", "nan,nan,nan"),
    _fetch("split-fractions-two", "--split-fractions", "--split-fractions", "0.5,0.5"),
    _fetch("split-fractions-neg", "--split-fractions", "--split-fractions", "-1,1,1"),
    _fetch("split-fractions-zero", "--split-fractions", "--split-fractions", "0,0,0"),
    _fetch("split-fractions-word", "--split-fractions", "--split-fractions", "a,b,c"),
    _fetch("max-cloud-nan", "--max-cloud", "--max-cloud", "nan"),
    _fetch("max-cloud-200", "--max-cloud", "--max-cloud", "200"),
    _fetch("min-valid-nan", "--min-valid", "--min-valid", "nan"),
    _fetch("min-valid-2", "--min-valid", "--min-valid", "2"),
    _fetch("chip-0", "--chip", "--chip", "0"),
    _fetch("chip-neg", "--chip", "--chip", "-32"),
    _fetch("overlap-neg", "--overlap", "--overlap", "-1"),
    _fetch("overlap-too-big", "--overlap", "--overlap", "64"),
    _fetch("frames-0", "--frames", "--frames", "0"),
    _fetch("split-block-0", "--split-block", "--split-block", "0"),
    _fetch("split-buffer-neg", "--split-buffer", "--split-buffer", "-1"),
    _fetch("workers-0", "--workers", "--workers", "0"),
    _fetch("start-not-a-date", "--start", "--start", "2023-13-01"),
    _fetch("end-before-start", "--end", "--end", "2023-09-01"),
    _fetch("bands-unknown", "band", "--bands", "red,purple"),
    _fetch("bands-empty", "band", "--bands", ","),
    _fetch("coregister-bogus", "--coregister", "--coregister", "maybe"),
    _fetch("source-bogus", "source", "--source", "carrier-pigeon"),
    _fetch("bbox-three", "bbox", "--bbox", "1,2,3"),
    _fetch("bbox-nan", "bbox", "--bbox", "nan,nan,nan,nan"),
    _fetch("bbox-out-of-range", "", "--bbox", "200,0,201,1"),
    _fetch("bbox-and-aoi", "exactly one", "--aoi", "{aoi_point}"),
    Case("fetch-aoi-crs-string", _with(FETCH[:5], "--aoi", "{aoi_crs}", *FETCH[7:]), "crs",
         2, "{w}/chips"),
    Case("fetch-aoi-nested", _with(FETCH[:5], "--aoi", "{aoi_nested}", *FETCH[7:]), "aoi",
         2, "{w}/chips"),
    Case("fetch-aoi-garbage", _with(FETCH[:5], "--aoi", "{aoi_garbage}", *FETCH[7:]), "json",
         2, "{w}/chips"),
    Case("fetch-aoi-point", _with(FETCH[:5], "--aoi", "{aoi_point}", *FETCH[7:]), "point",
         2, "{w}/chips"),
    Case("fetch-aoi-empty", _with(FETCH[:5], "--aoi", "{aoi_empty}", *FETCH[7:]), "polygon",
         2, "{w}/chips"),
    Case("fetch-aoi-missing", _with(FETCH[:5], "--aoi", "{w}/nowhere.geojson", *FETCH[7:]),
         "nowhere.geojson", 2, "{w}/chips"),
    Case("fetch-out-under-file", _with(FETCH[:12], "{file}/chips", "--no-progress"),
         "not a folder", 2, "{file}/chips"),
    Case("fetch-out-is-file", _with(FETCH[:12], "{file}", "--no-progress"), "not a folder"),
    Case("fetch-out-readonly", FETCH, "read-only", None, "{w}/chips", patch="readonly:"),
    Case("fetch-ee-credentials-user", _with(FETCH[:2], "ee", "--ee-credentials", "{cred_user}",
                                            "--project", "p", *FETCH[5:]), "external_account", 2,
         "{w}/chips"),
    Case("fetch-ee-credentials-truncated", _with(FETCH[:2], "ee", "--ee-credentials",
                                                 "{cred_bad}", *FETCH[5:]),
         "cred_bad.json", 2, "{w}/chips"),
    Case("fetch-ee-credentials-list", _with(FETCH[:2], "ee", "--ee-credentials", "{cred_list}",
                                            *FETCH[5:]), "cred_list.json", 2, "{w}/chips"),
    Case("fetch-ee-credentials-missing", _with(FETCH[:2], "ee", "--ee-credentials",
                                               "{w}/nokey.json", *FETCH[5:]), "nokey.json", 2,
         "{w}/chips"),
    Case("fetch-local-dir-missing", FETCH, "no-source", 2, "{w}/chips"),
    Case("fetch-interrupt", FETCH, "interrupted", 130, "{w}/chips",
         patch="interrupt:satsr.fetch.pipeline:fetch"),
]

BENCH_CASES = [
    _bench("batch-size-0", "--batch-size", "--batch-size", "0"),
    _bench("batch-size-neg", "--batch-size", "--batch-size", "-3"),
    _bench("device-bogus", "--device", "--device", "bogus"),
    _bench("device-cuda-index-word", "--device", "--device", "cuda:abc"),
    _bench("model-unknown", "unknown model", "--models", "zzz"),
    _bench("model-pattern-no-match", "zzz*", "--models", "zzz*"),
    _bench("models-empty", "--models", "--models", ","),
    _bench("dataset-missing", "neither a known name", "--dataset", "{w}/nowhere.zarr"),
    _bench("dataset-unknown-name", "neither a known name", "--dataset", "mnist"),
    _bench("split-bogus", "split", "--split", "holdout"),
    _bench("band-unknown", "band", "--band", "PURPLE"),
    _bench("out-under-file", "not a folder", "--out", "{file}/res", final="{file}/res"),
    _bench("out-is-file", "not a folder", "--out", "{file}", final="{file}/summary.json"),
    _bench("out-readonly", "read-only", code=None, patch="readonly:"),
    _bench("weights-negative-width", "n1", "--models", "srcnn:{wneg}"),
    _bench("weights-huge-width", "n1", "--models", "srcnn:{whuge}"),
    _bench("weights-garbage", "wgarbage", "--models", "srcnn:{wgarbage}"),
    _bench("weights-missing", "nowhere.safetensors", "--models", "srcnn:{w}/nowhere.safetensors"),
    _bench("records-foreign-parquet", "records", final="{w}/res/summary.json",
           copy=("foreign_parquet", "res")),
    _bench("records-truncated-parquet", "records", final="{w}/res/summary.json",
           copy=("truncated_parquet", "res")),
    _bench("records-foreign-csv", "records", final="{w}/res/summary.json",
           copy=("foreign_csv", "res")),
    _bench("records-truncated-csv", "records", final="{w}/res/summary.json",
           copy=("truncated_csv", "res")),
    _bench("chunk-random", "corrupt_store", "--dataset", "{corrupt_store}"),
    _bench("chunk-truncated", "truncated_store", "--dataset", "{truncated_store}"),
    _bench("sample-splits-truncated", "splits.json", "--dataset", "sample", "--root",
           "{sample_root}"),
    _bench("dataset-is-file", "file", "--dataset", "{file}"),
    _bench("interrupt", "interrupted", code=130, patch="interrupt:satsr.bench:run_bench"),
]

TRAIN_CASES = [
    _train("epochs-0", "--epochs", "--epochs", "0"),
    _train("epochs-neg", "--epochs", "--epochs", "-1"),
    _train("steps-0", "--steps", "--steps", "0"),
    _train("steps-neg", "--steps", "--steps", "-5"),
    _train("steps-and-epochs", "either --steps or --epochs", "--steps", "2", "--epochs", "1"),
    _train("early-stop-neg", "--early-stop", "--early-stop", "-1"),
    _train("early-stop-0", "--early-stop", "--early-stop", "0"),
    _train("val-every-neg", "--val-every", "--val-every", "-5"),
    _train("val-every-0", "--val-every", "--val-every", "0"),
    _train("lr-neg", "--lr", "--lr", "-1"),
    _train("lr-nan", "--lr", "--lr", "nan"),
    _train("lr-inf", "--lr", "--lr", "inf"),
    _train("threads-neg", "--threads", "--threads", "-1"),
    _train("threads-0", "--threads", "--threads", "0"),
    _train("batch-0", "--batch", "--batch", "0"),
    _train("patch-0", "--patch", "--patch", "0"),
    _train("patch-neg", "--patch", "--patch", "-4"),
    _train("patch-too-big", "--patch", "--patch", "16"),
    _train("frames-0", "--frames", "--frames", "0"),
    _train("device-bogus", "--device", "--device", "bogus"),
    _train("device-cuda-word", "--device", "--device", "cuda:abc"),
    _train("model-unknown", "unknown model", "--model", "zzz"),
    _train("model-baseline", "no trainable parameters", "--model", "bicubic"),
    _train("loss-bogus", "loss", "--loss", "bogus"),
    _train("schedule-bogus", "schedule", "--schedule", "sawtooth"),
    _train("preset-bogus", "preset", "--preset", "huge"),
    _train("val-split-bogus", "split", "--val-split", "holdout"),
    _train("gan-loss-bogus", "gan", "--gan", "--gan-loss", "hinge-ish"),
    _train("content-loss-bogus", "content", "--gan", "--content-loss", "vibes"),
    _train("hparam-not-kv", "--hparam", "--hparam", "n1"),
    _train("hparam-negative-width", "n1", "--hparam", "n1=-3"),
    _train("hparam-unknown", "hyper-parameter", "--hparam", "depth_typo=3"),
    _train("recipe-invalid-yaml", "recipe", "--recipe", "{recipe_bad}"),
    _train("recipe-list", "mapping", "--recipe", "{recipe_list}"),
    _train("recipe-unknown-key", "learning_rate_typo", "--recipe", "{recipe_unknown}"),
    _train("recipe-wrong-type", "steps", "--recipe", "{recipe_type}"),
    _train("recipe-missing", "does not exist", "--recipe", "{w}/nowhere.yaml"),
    _train("dataset-missing", "neither a known name", "--dataset", "{w}/nowhere.zarr"),
    _train("resume-nothing", "resume", "--resume"),
    _train("amp-on-cpu", "--amp", "--amp"),
    Case("train-missing-model", ("train", "--dataset", "{store}", "--out", "{w}/run"),
         "--model is required", 2, "{w}/run"),
    Case("train-out-under-file", _with(TRAIN[:5], "--out", "{file}/run"),
         "not a folder", 2, "{file}/run"),
    _train("out-readonly", "read-only", code=None, patch="readonly:"),
    _train("interrupt", "interrupted", code=130, patch="interrupt:satsr.train:train"),
]

MODELS_CASES = [
    Case("models-pattern-no-match", ("models", "zzz*"), "no model matches"),
    Case("models-name-no-match", ("models", "edsrr"), "did you mean"),
    Case("models-preset-bogus", ("models", "--preset", "bogus"), "preset"),
    Case("models-scale-0", ("models", "--scale", "0"), "--scale"),
    Case("models-scale-neg", ("models", "--scale", "-3"), "--scale"),
    Case("models-in-channels-0", ("models", "--in-channels", "0"), "--in-channels"),
    Case("models-kind-bogus", ("models", "--kind", "triple"), "unknown kind"),
    Case("models-interrupt", ("models", "--no-params"), "interrupted", 130,
         patch="interrupt:satsr.models:list_models"),
]

REPORT_CASES = [
    Case("report-missing-folder", ("report", "{w}/nowhere"), "nowhere", 2, "{w}/nowhere"),
    Case("report-file", ("report", "{file}"), "not a folder"),
    Case("report-no-summary", ("report", "{report_nosummary}"), "summary.json", 2,
         "{report_nosummary}/report.md"),
    Case("report-truncated-json", ("report", "{report_badjson}", "--out", "{w}/rep"),
         "not valid json", 2, "{w}/rep"),
    Case("report-tables-not-list", ("report", "{report_tables}", "--out", "{w}/rep"),
         "tables", 2, "{w}/rep"),
    Case("report-kind-wrong", ("report", "{report_kind}", "--out", "{w}/rep"), "kind", 2,
         "{w}/rep"),
    Case("report-fields-wrong-type", ("report", "{report_fields}", "--out", "{w}/rep"),
         "summary.json", 2, "{w}/rep"),
    Case("report-rows-wrong-type", ("report", "{report_rows}", "--out", "{w}/rep"),
         "summary.json", 2, "{w}/rep"),
    Case("report-out-under-file", ("report", "{report_rows}", "--out", "{file}/rep"),
         "", 2, "{file}/rep"),
]

DATASETS_CASES = [
    Case("datasets-download-size-neg", ("datasets", "download", "probav", "--size", "-1",
                                        "--root", "{w}/dl", "--url", "http://127.0.0.1:9/p.zip"),
         "--size", 2, "{w}/dl"),
    Case("datasets-download-size-0", ("datasets", "download", "probav", "--size", "0",
                                      "--root", "{w}/dl", "--url", "http://127.0.0.1:9/p.zip"),
         "--size", 2, "{w}/dl"),
    Case("datasets-download-root-file", ("datasets", "download", "probav", "--root", "{file}",
                                         "--url", "http://127.0.0.1:9/p.zip"),
         "not a folder", 2, "{file}.part"),
    Case("datasets-download-root-under-file", ("datasets", "download", "probav", "--root",
                                               "{file}/dl", "--url",
                                               "http://127.0.0.1:9/p.zip"),
         "not a folder", 2, "{file}/dl"),
    Case("datasets-download-md5-bogus", ("datasets", "download", "probav", "--md5", "xyz",
                                         "--root", "{w}/dl", "--url",
                                         "http://127.0.0.1:9/p.zip"), "--md5", 2, "{w}/dl"),
    Case("datasets-download-unknown", ("datasets", "download", "mnist"), "unknown dataset"),
    Case("datasets-download-generated", ("datasets", "download", "sample"),
         "cannot be downloaded"),
    Case("datasets-prepare-unknown", ("datasets", "prepare", "mnist"), "unknown dataset"),
    Case("datasets-prepare-probav-missing", ("datasets", "prepare", "probav", "--root",
                                             "{w}/nowhere", "--out", "{w}/prep"),
         "nowhere", 2, "{w}/prep"),
    Case("datasets-prepare-probav-empty", ("datasets", "prepare", "probav", "--root",
                                           "{probav_fake}", "--out", "{w}/prep"),
         "probav_fake", 2, "{w}/prep"),
    Case("datasets-prepare-sample-out-under-file", ("datasets", "prepare", "sample", "--out",
                                                    "{file}/prep"), "not a folder", 2,
         "{file}/prep"),
    Case("datasets-prepare-sample-readonly", ("datasets", "prepare", "sample", "--out",
                                              "{w}/prep"), "read-only", None, "{w}/prep",
         patch="readonly:"),
    Case("datasets-info-missing", ("datasets", "info", "{w}/nowhere.zarr"), "neither a known name"),
    Case("datasets-info-unknown", ("datasets", "info", "mnist"), "neither a known name"),
    Case("datasets-info-sample-splits-truncated", ("datasets", "info", "sample", "--root",
                                                   "{sample_root}"), "splits.json"),
]


def _create(**kw: object) -> Callable[[], object]:
    def call() -> object:
        from satsr.models import create_model

        return create_model(**kw)  # type: ignore[arg-type]
    return call


def _forward(shape: tuple[int, ...], name: str = "srcnn") -> Callable[[], object]:
    def call() -> object:
        import torch

        from satsr.models import create_model

        return create_model(name, scale=3, in_channels=1)(torch.zeros(shape))
    return call


def _config(kind: str, **kw: object) -> Callable[[], object]:
    def call() -> object:
        if kind == "train":
            from satsr.train import TrainConfig

            return TrainConfig(model="srcnn", **kw)  # type: ignore[arg-type]
        from satsr.bench import BenchConfig

        return BenchConfig(**kw)  # type: ignore[arg-type]
    return call


API_CASES = [
    Case("api-create-scale-0", fragment="scale", api=_create(name="edsr", scale=0)),
    Case("api-create-scale-neg", fragment="scale", api=_create(name="edsr", scale=-3)),
    Case("api-create-in-channels-0", fragment="in_channels",
         api=_create(name="edsr", in_channels=0)),
    Case("api-create-num-frames-0", fragment="num_frames",
         api=_create(name="rams", num_frames=0)),
    Case("api-create-num-frames-neg", fragment="num_frames",
         api=_create(name="highres-net", num_frames=-2)),
    Case("api-create-width-neg", fragment="n1", api=_create(name="srcnn", n1=-3)),
    Case("api-create-width-huge", fragment="parameters",
         api=_create(name="edsr", features=10**6)),
    Case("api-forward-4d", fragment="(b, t, c, h, w)", api=_forward((1, 1, 8, 8))),
    Case("api-forward-4d-multi", fragment="(b, t, c, h, w)",
         api=_forward((1, 1, 8, 8), "highres-net")),
    Case("api-forward-channels", fragment="channel", api=_forward((1, 1, 3, 8, 8))),
    Case("api-forward-baseline-4d", fragment="(b, t, c, h, w)",
         api=_forward((1, 1, 8, 8), "bicubic")),
    Case("api-train-epochs-0", fragment="epochs", api=_config("train", epochs=0)),
    Case("api-train-lr-nan", fragment="lr", api=_config("train", lr=float("nan"))),
    Case("api-train-early-stop-neg", fragment="--early-stop", api=_config("train", early_stop=-1)),
    Case("api-train-val-every-neg", fragment="--val-every", api=_config("train", val_every=-5)),
    Case("api-bench-batch-size-0", fragment="--batch-size", api=_config("bench", batch_size=0)),
]

CASES: list[Case] = [*USAGE, *FETCH_CASES, *BENCH_CASES, *TRAIN_CASES, *MODELS_CASES,
                     *REPORT_CASES, *DATASETS_CASES, *API_CASES]
