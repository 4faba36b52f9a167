"""``xlt embed``: a corpus (text, JSONL, CSV/TSV, Parquet, saved HF datasets) → sharded sentence embeddings.

Options are generated from :class:`xlt.jobs.embed.EmbedSettings`; ``--config run.yaml`` gives any
of its fields (``inputs`` too), and the command line wins.
"""

from __future__ import annotations

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import embed as job
from xlt.jobs.parts_aligncmds import help_of


def add_parser(sub) -> None:
    p = add_command(sub, "embed", job.EmbedSettings,
                    help="embed a corpus into sharded vectors on disk (resumable; --cluster for Dask)",
                    description="Embed every text of the inputs (one per line, or --column of JSONL/CSV/TSV/"
                                "Parquet files and saved Hugging Face datasets) into .npy shards of --shard-size "
                                "rows with a manifest (model, prefix, pooling, layer, per-shard SHA-256). A rerun "
                                "resumes an interrupted folder and re-makes corrupt shards. --cluster local:N or "
                                "tcp://HOST:8786 runs the shards as Dask tasks.")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help=help_of(job.EmbedSettings, "inputs"))


def run(args, argv) -> int:
    if not args.inputs:
        args.inputs = None  # the --config file may give them
    cfg = settings_from_args(job.EmbedSettings, args, out="the embeddings folder")
    res = job.run(cfg, command=["xlt"] + argv)
    r = res.report
    c = r["counts"]
    print(f"{c['rows']} rows read, {c['kept']} embedded; {c['skipped_empty']} empty"
          + (f" and {c['skipped_duplicate']} duplicate" if cfg.dedup else "") + " skipped")
    s = r["shards"]
    speed = f", {r['tokens_per_second']:,.0f} tokens/s" if r["tokens_per_second"] else ""
    print(f"{res.n_rows} vectors of {r['dim']} in {s['total']} shards ({s['made']} made, {s['resumed']} resumed"
          + (f", {s['remade_after_hash_mismatch']} re-made after a hash mismatch" if s["remade_after_hash_mismatch"]
             else "") + f") in {r['seconds']['total']:.1f} s{speed} -> {res.out}")
    return 0
