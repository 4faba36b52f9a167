"""``xlt wordalign``: word alignment (SimAlign, awesome-align) and ``xlt wordalign eval``, its scores.

Options are generated from :class:`xlt.jobs.wordalign.WordalignSettings` and
:class:`xlt.jobs.wordalign.WordalignEvalSettings`, which hold every default and check.
"""

from __future__ import annotations

import sys

from xlt.cli._common import first_few
from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import wordalign as job


def add_parser(sub) -> None:
    p = add_command(sub, "wordalign", job.WordalignSettings,
                    help="word alignment from a multilingual encoder (SimAlign, awesome-align)",
                    description="Align the words of 'source ||| target' lines with similarity-based "
                                "extraction (SimAlign: argmax, itermax, match; awesome-align: softmax) "
                                "and write Pharaoh links (0-based i-j, one line per pair). "
                                "'xlt wordalign eval' scores a Pharaoh file against a gold one.")
    wsub = p.add_subparsers(dest="wordalign_command", required=False, metavar="{eval}")
    add_command(wsub, "eval", job.WordalignEvalSettings,
                help="AER, precision, recall and F1 of Pharaoh links against a gold file",
                description="Score predicted Pharaoh links against gold links (i-j sure, ipj "
                            "possible): AER (Och & Ney 2003), precision, recall and F1, in %.")


def _print_scores(rows: list[tuple[str, dict]]) -> None:
    print(f"{'':<24} {'AER':>6} {'P':>6} {'R':>6} {'F1':>6} {'links':>7}")
    for name, s in rows:
        print(f"{name[:24]:<24} {s['aer']:6.2f} {s['precision']:6.2f} {s['recall']:6.2f} {s['f1']:6.2f} "
              f"{s['counts']['pred']:7d}")


def _warn_truncated(stats: dict, n_aligned: int) -> None:
    """One stderr line when sentence pairs were cut at the model's length limit: how many, and their lines."""
    n = stats.get("n_truncated_pairs", 0)
    if not n:
        return
    # pair k of the job is line k + 1 of --pairs (skipped lines keep their place)
    lines = first_few([k + 1 for k in stats["truncated_pairs"]], n)
    print(f"warning: {n} of {n_aligned} sentence pairs are longer than the model takes ({stats['max_length']} "
          f"tokens) and were cut: {stats['n_truncated_words']} words past the cut have no links "
          f"(line{'s' if n > 1 else ''} {lines})", file=sys.stderr)


def run(args, argv) -> int:
    if args.wordalign_command == "eval":
        cfg = settings_from_args(job.WordalignEvalSettings, args)
        rows = job.run_eval(cfg, command=["xlt"] + argv).rows
        c = rows[0][1]["counts"]
        print(f"gold: {cfg.gold} ({c['pairs']} pairs, {c['sure']} sure and {c['possible']} possible links); "
              "scores in %")
        _print_scores(rows)
        return 0
    cfg = settings_from_args(job.WordalignSettings, args)
    res = job.run(cfg, command=["xlt"] + argv)
    c, rep = res.counts, res.report
    print(f"{c['aligned']} sentence pairs aligned ({c['skipped_empty']} lines with an empty side skipped) "
          f"with {cfg.model}, layer {rep['config']['layer']}, in {rep['seconds']['total']:.1f} s "
          f"({rep['pairs_per_second']:.1f} pairs/s)")
    _warn_truncated(res.stats, c["aligned"])
    for m, path in res.outputs.items():
        print(f"{m}: {path}")
    if res.scores:
        print(f"scores against {cfg.gold} (%):")
        _print_scores(list(res.scores.items()))
    if cfg.report:
        print(f"report: {cfg.report}")
    return 0
