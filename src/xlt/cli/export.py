"""``xlt export-model``: write a model spec as a standard Hugging Face folder."""

from __future__ import annotations



def add_parser(sub) -> None:
    p = sub.add_parser("export-model", help="write a model as a standard Hugging Face folder")
    p.add_argument("spec", help="model spec, e.g. bundled:e5-small")
    p.add_argument("dir", help="output folder (must be empty or new; see --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder (whole)")


def run(args, argv) -> int:
    from xlt.models.export import export_model

    out = export_model(args.spec, args.dir, overwrite=args.overwrite)
    print(f"exported {args.spec} to {out} (load with AutoModel/AutoTokenizer.from_pretrained)")
    return 0
