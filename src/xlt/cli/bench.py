"""``xlt bench``: speed benchmarks run side by side with the alternative (extract, finetune, mine, inference).

Options are generated from the settings classes of :mod:`xlt.jobs.bench` (one per subcommand),
which hold every default and check; ``--config run.yaml`` gives any of their fields, and the
command line wins.
"""

from __future__ import annotations

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import bench as job
from xlt.jobs import bench_inference

#: subcommand -> (settings class, help)
SUBCOMMANDS = {
    "extract": (job.BenchExtractSettings, "xlt's batched feature extraction vs a naive one-sentence loop"),
    "finetune": (job.BenchFinetuneSettings, "xlt's fine-tuning vs a plain transformers.Trainer on the same model "
                                            "and data"),
    "mine": (job.BenchMineSettings, "bitext mining time as the input grows (embedding and FAISS search)"),
    "inference": (bench_inference.BenchInferenceSettings, "the encoder's inference backends side by side (torch/onnx, "
                                                          "fp32/int8): tokens/s, GEMM limit, int8 quality loss"),
}


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", required=True)
    for name, (cls, text) in SUBCOMMANDS.items():
        add_command(bsub, name, cls, help=text)


def run(args, argv) -> int:
    cfg = settings_from_args(SUBCOMMANDS[args.bench][0], args)
    if isinstance(cfg, bench_inference.BenchInferenceSettings):
        print(bench_inference.run_inference(cfg, command=["xlt"] + argv).table)
    else:
        print(job.run(cfg, command=["xlt"] + argv).table)
    return 0
