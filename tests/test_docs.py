"""The documentation site (mkdocs.yml, docs/): it builds, it documents the public API, and every
``xlt`` command its pages show runs.

* :func:`test_site_builds`: ``mkdocs build --strict`` into a temporary folder (a broken link, a
  missing page, an API identifier that moved, or a docstring that mkdocstrings cannot parse
  fails it).
* :func:`test_api_pages_document_every_public_name`: every name of ``xlt.__all__`` has a
  ``::: module.name`` entry in an API page, ``module`` being where it is defined.
* :func:`test_page_commands`: every command of the guide pages (docs/ except results/, api/ and
  the benchmarks index) runs through :func:`xlt.cli.main` on tiny data, so the pages cannot drift
  from the code;
* the README's commands (shown with placeholder files) and the pages' skipped commands are
  accepted by the parser; the pages' Python examples compile; the README's links exist.

A new example that reads a file of the data folder needs that file in the synthetic folder:
:func:`add_docs_data` writes them.

How commands are found: in each fenced ```` ```bash ```` block, lines are joined at trailing
``\\``; every line that starts with ``xlt `` is a command (``echo "TEXT" | xlt ...`` feeds TEXT on
standard input; a ``# comment`` at the end is dropped). An HTML comment on the line before a block
changes what happens to it:

* ``<!-- docs-test: skip (why) -->``: its commands are not run; they are counted and listed by
  :func:`test_skipped_commands_are_few`, which keeps them rare;
* ``<!-- docs-test: exit 2 -->``: each command must fail as bad input does: exit code 2 and one
  ``xlt: error:`` line, before any model is loaded;
* ``<!-- docs-test: file NAME -->`` (any block language): the block's text is written to NAME in the
  working folder, for the commands after it (a YAML config, a text file).

How they run: each page gets a working folder ``<tmp>/<page>/main`` with ``../shared/data`` beside
it, so the pages' paths ``../shared/data/...`` (the data folder beside a checkout) point at the
synthetic data folder of the ``data`` fixture (tests/fixtures.py), plus the files
:func:`add_docs_data` adds to it: more languages (copies of the fixture's files), a small NTREX,
Tatoeba, word-alignment gold sets and dictionaries. ``$XLT_DATA`` names the same folder. The
default model ``bundled:e5-small`` loads a tiny random BERT instead (tests/helpers.py, built with
8 layers rather than 2, so that ``--layer 8`` and the default alignment layer 8 exist). The files a page
calls "yours" (``my-data/``) are written by :func:`write_user_files`; small ones are shown
in the page itself and written by a ``docs-test: file`` mark.
Output folders (``runs/``, ``models/``) land in the working folder.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
#: Pages whose commands are records of past measurements or generated API text, not examples.
NOT_RUN = ("results/", "api/", "benchmarks.md")
#: At most this many commands may be marked ``docs-test: skip``.
MAX_SKIPPED = 6
#: Layers of the tiny model that stands in for the bundled one (12 layers): 8 is the default layer of
#: word alignment and of the alignment behind ``xlt align`` and ``xlt project --silver``.
TINY_LAYERS = 8

pytestmark = pytest.mark.usefixtures("single_torch_thread")


# --------------------------------------------------------------------------------------------
# reading commands out of the pages


@dataclass
class Command:
    page: str
    line: int  # 1-based line of the page where the command starts
    text: str  # the command, continuation lines joined
    stdin: str | None = None
    expect: str = "ok"  # "ok", "exit2" or "skip"
    reason: str = ""

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text, comments=True)[1:]


@dataclass
class Step:
    """What a page asks for, in order: a command to run, or a file to write."""

    command: Command | None = None
    file: tuple[str, str] | None = None  # (name, content)


@dataclass
class Page:
    name: str
    steps: list[Step] = field(default_factory=list)

    @property
    def commands(self) -> list[Command]:
        return [s.command for s in self.steps if s.command is not None]


_MARK = re.compile(r"<!--\s*docs-test:\s*(skip|exit 2|file)\s*(.*?)\s*-->")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
_ECHO = re.compile(r"""^echo\s+(?P<q>["'])(?P<text>.*?)(?P=q)\s*\|\s*(?P<cmd>xlt\s.*)$""")


def page_steps(path: Path) -> Page:
    """The commands and files of one page (see the module docstring)."""
    name = path.relative_to(DOCS).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    page = Page(name)
    i = 0
    last_text = ""  # the last non-blank line before the current one
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            if lines[i].strip():
                last_text = lines[i].strip()
            i += 1
            continue
        lang, marker = fence.group(3), fence.group(2)
        mark = _MARK.fullmatch(last_text)
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].strip().startswith(marker):
            j += 1
        body = [ln[len(fence.group(1)):] if ln.startswith(fence.group(1)) else ln for ln in lines[start:j]]
        i, last_text = j + 1, ""
        if mark and mark.group(1) == "file":
            page.steps.append(Step(file=(mark.group(2), "\n".join(body) + "\n")))
            continue
        if lang != "bash":
            continue
        expect, reason = "ok", ""
        if mark and mark.group(1) == "skip":
            expect, reason = "skip", mark.group(2).strip("() ")
        elif mark:
            expect = "exit2"
        k = 0
        while k < len(body):
            first = k
            text = body[k].rstrip()
            while text.endswith("\\") and k + 1 < len(body):
                k += 1
                text = text[:-1].rstrip() + " " + body[k].strip()
            k += 1
            text = text.strip()
            stdin = None
            echo = _ECHO.match(text)
            if echo:
                stdin, text = echo.group("text") + "\n", echo.group("cmd")
            if text.startswith("xlt "):
                page.steps.append(Step(command=Command(name, start + first + 1, text, stdin, expect, reason)))
    return page


def run_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md")
                  if not p.relative_to(DOCS).as_posix().startswith(NOT_RUN))


# --------------------------------------------------------------------------------------------
# the world the commands run in


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _english_lines(n: int, seed: int) -> list[str]:
    """``n`` different sentences of the tiny vocabulary (tests/fixtures.py)."""
    import random

    from fixtures import upos_sentences

    rng, lines, seen = random.Random(seed), [], set()
    while len(lines) < n:
        line = " ".join(w for w, _ in upos_sentences(1, rng)[0])
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


#: Stand-in scripts: the first code point of a Unicode block that replaces the letters a-z.
SCRIPTS = {"ar": 0x0628, "ur": 0x0628, "fa": 0x0628, "hi": 0x0915, "th": 0x0E01, "ja": 0x3041, "zh": 0x4E00,
           "ru": 0x0430, "uk": 0x0430, "el": 0x03B1}


def _word(word: str, lang: str) -> str:
    """A deterministic stand-in translation of an English word into ``lang`` (a 2-letter code): the
    word with the language's ending, or its letters moved into the language's script."""
    if word == ".":
        return word
    base = SCRIPTS.get(lang)
    if base is None:
        return word + lang
    return "".join(chr(base + ord(c) - ord("a")) if "a" <= c <= "z" else c for c in word)


def _translate(line: str, lang: str) -> str:
    return " ".join(_word(w, lang) for w in line.split())


#: The small NTREX: code -> 2-letter code of its stand-in translation (English is the ``src`` file).
NTREX_LANGS = {"deu": "de", "fra": "fr", "spa": "es", "rus": "ru", "ukr": "uk", "zho-CN": "zh", "jpn": "ja",
               "swa": "sw", "yor": "yo", "hau": "ha", "wol": "wo", "arb": "ar", "hin": "hi", "tha": "th",
               "urd": "ur", "nld": "nl", "afr": "af", "ron": "ro", "vie": "vi", "tur": "tr",
               # the other sources of the shipped NER ranker's training matrix (PAN-X)
               "bul": "bg", "ell": "el", "est": "et", "eus": "eu", "fas": "fa", "fin": "fi", "heb": "he",
               "hun": "hu", "ind": "id", "ita": "it", "kor": "ko"}
#: Lines of the small NTREX: more than the 200 that ``xlt align`` holds out by default.
NTREX_LINES = 220
#: Tatoeba languages (ISO 639-3) -> 2-letter codes.
TATOEBA_LANGS = {"deu": "de", "fra": "fr", "swh": "sw"}
#: Dictionaries of the data folder: 2-letter code -> the name in dict/en-<name>.txt.
DICTS = {"de": "german", "sw": "swahili", "ar": "arabic", "zh": "chinese", "hi": "hindi", "ja": "japanese",
         "ru": "russian"}
#: SIB-200 languages with training data besides English (the real data folder has ten).
SIB_SOURCES = ("deu_Latn", "rus_Cyrl", "zho_Hans", "hin_Deva")


def add_docs_data(root: Path) -> None:
    """Add what the pages' examples read to the synthetic data folder ``root`` (tests/fixtures.py
    writes udpos en/de/fr, panx en/de and sib200 eng_Latn/deu_Latn):

    * PAN-X: dev sets of fr, es, ru, ja, sw, yo, zh (copies of dev-de) and training files of de, ru, sw;
    * UD-POS: training and dev files for nl, ar, ja, tr, zh, test files for them and for yo, th,
      ur, wo, vi (copies), and German's dev file;
    * SIB-200: training, dev and test files for four more source languages and test files for
      swh_Latn and yor_Latn (copies), ``labels.txt`` everywhere;
    * a 220-line NTREX (English sentences of the tiny vocabulary and stand-in translations, some
      in other scripts: :func:`_word`), Tatoeba for three languages, the en-fr word-alignment
      gold sets (en-fr, ro-en, ja-en, zh-en; 20 pairs each, 1-based links), Wiktionary-style dictionaries whose entries occur
      in the NTREX text, and XLING-style en-de BLI dictionaries made of the same words.
    """
    panx, udpos, sib = root / "panx", root / "udpos", root / "sib200"
    for lang in ("fr", "es", "ru", "ja", "sw", "yo", "zh"):
        _copy(panx / "dev-de.tsv", panx / f"dev-{lang}.tsv")
    for lang in ("de", "ru", "sw"):
        _copy(panx / "train-en.tsv", panx / f"train-{lang}.tsv")
    for lang in ("nl", "ar", "ja", "tr", "zh"):
        _copy(udpos / "train-en.tsv", udpos / f"train-{lang}.tsv")
        _copy(udpos / "dev-en.tsv", udpos / f"dev-{lang}.tsv")
    for lang in ("nl", "ar", "ja", "tr", "zh", "yo", "th", "ur", "wo", "vi"):
        _copy(udpos / "test-de.tsv", udpos / f"test-{lang}.tsv")
    _copy(udpos / "test-de.tsv", udpos / "dev-de.tsv")
    eng = sib / "eng_Latn"
    for lang in SIB_SOURCES:
        for split in ("train", "dev", "test"):
            _copy(eng / f"{split}.tsv", sib / lang / f"{split}.tsv")
    for lang in ("swh_Latn", "yor_Latn"):
        _copy(sib / "deu_Latn" / "test.tsv", sib / lang / "test.tsv")
    for folder in sib.iterdir():
        if folder.is_dir() and folder != eng:
            _copy(eng / "labels.txt", folder / "labels.txt")

    eng_lines = _english_lines(NTREX_LINES, seed=7)
    nt = root / "ntrex"
    nt.mkdir(exist_ok=True)
    (nt / "newstest2019-src.eng.txt").write_text("\n".join(eng_lines) + "\n", encoding="utf-8")
    for code, lang in NTREX_LANGS.items():
        (nt / f"newstest2019-ref.{code}.txt").write_text(
            "\n".join(_translate(s, lang) for s in eng_lines) + "\n", encoding="utf-8")

    tat = root / "tatoeba"
    tat.mkdir(exist_ok=True)
    pairs = _english_lines(60, seed=8)
    for code, lang in TATOEBA_LANGS.items():
        (tat / f"tatoeba.{code}-eng.{code}").write_text(
            "\n".join(_translate(s, lang) for s in pairs) + "\n", encoding="utf-8")
        (tat / f"tatoeba.{code}-eng.eng").write_text("\n".join(pairs) + "\n", encoding="utf-8")

    wa = root / "wordalign"
    wa.mkdir(exist_ok=True)
    src = _english_lines(20, seed=9)
    # 1-based gold links, word i to word i, every third one only possible
    gold = "".join(" ".join(f"{i}{'p' if i % 3 == 0 else '-'}{i}" for i in range(1, len(s.split()) + 1)) + "\n"
                   for s in src)
    for name, lang in (("enfr", "fr"), ("roen", "ro"), ("jaen", "ja"), ("zhen", "zh")):
        english_first = name.startswith("en")
        (wa / f"{name}.src-tgt").write_text("".join(
            f"{s} ||| {_translate(s, lang)}\n" if english_first else f"{_translate(s, lang)} ||| {s}\n" for s in src),
            encoding="utf-8")
        (wa / f"{name}.gold").write_text(gold, encoding="utf-8")

    dic = root / "dict"
    dic.mkdir(exist_ok=True)
    vocab = sorted({w for s in eng_lines for w in s.split() if w != "."})
    for lang, name in DICTS.items():
        (dic / f"en-{name}.txt").write_text("".join(f"{w}\t{_word(w, lang)}\n" for w in vocab), encoding="utf-8")
    # XLING-style BLI dictionaries for en-de (docs/guides/lexicon.md): every other word to train, the rest to test
    bli = root / "bli" / "en-de"
    bli.mkdir(parents=True, exist_ok=True)
    for name, words in (("train.freq.5k", vocab[::2]), ("train.freq.1k", vocab[::4]), ("test.freq.2k", vocab[1::2])):
        (bli / f"yacle.{name}.en-de.tsv").write_text("".join(f"{w}\t{_word(w, 'de')}\n" for w in words),
                                                     encoding="utf-8")


def write_user_files(cwd: Path, data: Path) -> None:
    """The files the pages call yours, written into the working folder ``cwd``:

    * ``my-data/``: CoNLL-2003-style NER files (space-separated ``word POS CHUNK TAG`` columns,
      ``-DOCSTART-`` lines) made from the PAN-X fixture files: ``en-train.conll``,
      ``en-dev.conll``, ``german.conll`` (with one ``B-DATE`` tag), ``test-sw.conll`` and
      ``more-tests/test-fr.conll``.
    """
    def conll(path: Path, src: Path, date: bool = False) -> None:
        lines = ["-DOCSTART- -X- -X- O", ""]
        for row in src.read_text(encoding="utf-8").splitlines():
            if not row.strip():
                if lines[-1]:
                    lines.append("")
                continue
            w, t = row.split("\t")
            if date and t == "O":
                w, t, date = "2024", "B-DATE", False
            lines.append(f"{w} X X {t}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    panx = data / "panx"
    my = cwd / "my-data"
    conll(my / "en-train.conll", panx / "train-en.tsv")
    conll(my / "en-dev.conll", panx / "dev-en.tsv")
    conll(my / "german.conll", panx / "dev-de.tsv", date=True)
    conll(my / "test-sw.conll", panx / "dev-de.tsv")
    conll(my / "more-tests" / "test-fr.conll", panx / "dev-de.tsv")


@pytest.fixture(scope="module")
def docs_world(data, tmp_path_factory):
    """``(data folder, tiny model folder, root for the pages' working folders)``."""
    from helpers import make_tiny_encoder

    add_docs_data(data.root)
    models = tmp_path_factory.mktemp("docs-model")
    make_tiny_encoder(models, num_layers=TINY_LAYERS)
    return data.root, models / "tiny-bert", tmp_path_factory.mktemp("docs-pages")


def use_tiny_as_bundled(monkeypatch, folder: Path) -> None:
    """Make ``bundled:e5-small`` (the default model) load the tiny model ``folder``."""
    import xlt.models.bundled as bundled
    import xlt.models.loading as loading
    from transformers import AutoTokenizer

    header = {"hidden": 32, "layers": TINY_LAYERS, "heads": 2, "ffn": 64, "vocab": 0, "max_positions": 64}
    monkeypatch.setattr(bundled, "load_bundled", lambda name="e5-small": loading._load_hf(str(folder)))
    monkeypatch.setattr(bundled, "read_e5_header", lambda name="e5-small": dict(header))
    monkeypatch.setattr(bundled, "bundled_file", lambda name="e5-small": folder)
    monkeypatch.setattr(bundled, "read_e5_file", lambda path, tensors=True: None)
    monkeypatch.setattr(bundled, "build_tokenizer", lambda f: AutoTokenizer.from_pretrained(str(folder)))


def no_model_loads(monkeypatch) -> None:
    import xlt.models.bundled as bundled
    import xlt.models.loading as loading

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the inputs and outputs were checked")

    monkeypatch.setattr(loading, "_load_hf", refuse)
    monkeypatch.setattr(bundled, "load_bundled", refuse)


def run_command(cmd: Command, cwd: Path, capsys) -> tuple[int, str, str]:
    """Run one command in ``cwd`` through :func:`xlt.cli.main`: (exit code, stdout, stderr)."""
    from xlt.cli import main

    old_cwd, old_stdin = os.getcwd(), sys.stdin
    os.chdir(cwd)
    sys.stdin = io.StringIO(cmd.stdin or "")
    capsys.readouterr()
    try:
        try:
            rc = main(cmd.argv)
        except SystemExit as exc:  # argparse: an unknown option or value
            rc = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
    out, err = capsys.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------------------------
# the tests


def test_site_builds(tmp_path):
    """``mkdocs build --strict`` succeeds (what ``make docs`` runs)."""
    mkdocs = Path(sys.executable).with_name("mkdocs")
    cmd = [str(mkdocs)] if mkdocs.exists() else [sys.executable, "-m", "mkdocs"]
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", HF_HUB_OFFLINE="1")
    proc = subprocess.run([*cmd, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=600)
    warnings = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln or "ERROR" in ln]
    assert proc.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(warnings or [proc.stderr[-3000:]])
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "api" / "public" / "index.html").is_file()


def defining_identifier(name: str) -> str:
    """``module.name`` where the public name ``xlt.<name>`` is defined: a class's or function's own
    module (which may lie behind the module ``xlt._EXPORTS`` imports it from), else the module of
    ``xlt._EXPORTS`` (constants)."""
    import inspect

    import xlt

    target = xlt._EXPORTS[name]
    module, attr = target if isinstance(target, tuple) else (target, name)
    obj = getattr(xlt, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return f"{obj.__module__}.{obj.__qualname__}"
    # a constant: the module, or the submodule of a package, that assigns it at top level
    import importlib

    mod = importlib.import_module(module)
    files = [Path(mod.__file__)]
    if hasattr(mod, "__path__"):
        files += sorted(p for p in Path(mod.__file__).parent.glob("*.py") if p.name != "__init__.py")
    assigned = re.compile(rf"^{re.escape(attr)}\s*[:=]", flags=re.M)
    for f in files:
        if assigned.search(f.read_text(encoding="utf-8")):
            sub = "" if f.name == "__init__.py" or f == files[0] and not hasattr(mod, "__path__") else f".{f.stem}"
            return f"{module}{sub}.{attr}"
    return f"{module}.{attr}"


def test_api_pages_document_every_public_name():
    """Each name of ``xlt.__all__`` has a ``::: <defining module>.<name>`` entry in an API page."""
    import xlt

    api = "\n".join(p.read_text(encoding="utf-8") for p in sorted((DOCS / "api").rglob("*.md")))
    entries = set(re.findall(r"^:::\s*([\w.]+)", api, flags=re.M))
    missing = []
    for name in xlt.__all__:
        if name == "__version__":
            if "xlt.__version__" not in api:
                missing.append(name)
            continue
        if defining_identifier(name) not in entries:
            missing.append(f"{name} (::: {defining_identifier(name)})")
        if f"`xlt.{name}`" not in api:
            missing.append(f"{name} (the text `xlt.{name}`)")
    assert not missing, "API pages lack: " + ", ".join(missing)


def test_pages_have_commands():
    """The harness finds the pages' commands (a broken parser would make the test below vacuous)."""
    pages = {p.relative_to(DOCS).as_posix(): page_steps(p) for p in run_pages()}
    assert len(pages["guides/transfer.md"].commands) >= 10
    n = sum(len(p.commands) for p in pages.values())
    assert n >= 40, n


def test_skipped_commands_are_few(capsys):
    """Commands marked ``docs-test: skip`` are listed with their reasons, and stay rare."""
    skipped = [c for p in run_pages() for c in page_steps(p).commands if c.expect == "skip"]
    with capsys.disabled():
        for c in skipped:
            print(f"\n  docs-test skip: {c.page}:{c.line}: {c.text[:80]}... ({c.reason})", end="")
    assert all(c.reason for c in skipped), "every skip needs a reason: <!-- docs-test: skip (why) -->"
    assert len(skipped) <= MAX_SKIPPED, [f"{c.page}:{c.line}" for c in skipped]
    # not run, but still accepted by the command line's parser
    from xlt.cli import build_parser

    parser = build_parser()
    for c in skipped:
        try:
            parser.parse_args(c.argv)
        except SystemExit:
            pytest.fail(f"{c.page}:{c.line}: the parser refuses {c.text}")


def pages_with_commands() -> list[str]:
    return [p.relative_to(DOCS).as_posix() for p in run_pages()
            if any(c.expect != "skip" for c in page_steps(p).commands)]


@pytest.mark.parametrize("page", pages_with_commands())
def test_page_commands(page, docs_world, monkeypatch, capsys):
    """Every command of the page runs (exit 0; or exit 2 with one error line where marked)."""
    data, tiny, pages_root = docs_world
    steps = page_steps(DOCS / page).steps
    base = pages_root / page.replace("/", "_").removesuffix(".md")
    cwd = base / "main"
    cwd.mkdir(parents=True)
    (base / "shared").mkdir()
    (base / "shared" / "data").symlink_to(data, target_is_directory=True)
    write_user_files(cwd, data)
    monkeypatch.setenv("XLT_DATA", str(data))
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    # LightGBM's rankers take their thread count from joblib (not from OpenMP's limits): one
    # thread, else on a busy 2-core machine each of its hundreds of tiny boosting rounds waits for
    # the second thread to be scheduled
    monkeypatch.setenv("LOKY_MAX_CPU_COUNT", "1")
    use_tiny_as_bundled(monkeypatch, tiny)

    # one thread for every BLAS/OpenMP runtime (on these tiny arrays extra threads only spin): load
    # the libraries that bring their own runtimes first, so that the limit covers them too
    import faiss  # noqa: F401
    import lightgbm  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    failures = []
    with threadpool_limits(1):
        run_steps(steps, cwd, monkeypatch, capsys, failures)
    assert not failures, f"{len(failures)} command(s) of {page} failed:\n" + "\n".join(failures)


def run_steps(steps: list[Step], cwd: Path, monkeypatch, capsys, failures: list[str]) -> None:
    """Write the page's files and run its commands in order, adding a line to ``failures`` for each
    command that does not end as the page says."""
    for step in steps:
        if step.file:
            name, content = step.file
            (cwd / name).parent.mkdir(parents=True, exist_ok=True)
            (cwd / name).write_text(content, encoding="utf-8")
            continue
        cmd = step.command
        if cmd.expect == "skip":
            continue
        where = f"{cmd.page}:{cmd.line}: {cmd.text}"
        if cmd.expect == "exit2":
            with monkeypatch.context() as m:
                no_model_loads(m)
                rc, out, err = run_command(cmd, cwd, capsys)
            errors = [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("xlt: error: ")]
            if rc != 2 or len(errors) != 1:
                failures.append(f"{where}\n    expected exit 2 and one error line, got exit {rc}: "
                                f"{(errors or err.splitlines()[-3:])}")
            continue
        started = time.process_time()
        rc, out, err = run_command(cmd, cwd, capsys)
        if os.environ.get("XLT_DOCS_TIMES"):  # where a page's time goes: CPU seconds per command
            with capsys.disabled():
                print(f"\n  {time.process_time() - started:6.1f}s  {cmd.page}:{cmd.line}  {cmd.text[:90]}", end="")
        if rc != 0:
            tail = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip()][-3:]
            failures.append(f"{where}\n    exit {rc}: {' | '.join(tail)}")


def test_readme_commands_parse():
    """The README's commands (shown with placeholder files, so not run) are accepted by the
    command line's parser."""
    from xlt.cli import build_parser

    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith(("xlt ", ".venv/bin/xlt ")):
                commands.append(line)
    assert len(commands) >= 8
    parser = build_parser()
    bad = []
    for line in commands:
        try:
            parser.parse_args(shlex.split(line, comments=True)[1:])
        except SystemExit:
            bad.append(line)
    assert not bad, "README commands the parser refuses: " + "; ".join(bad)


def test_python_examples_compile():
    """The pages' Python examples are valid Python (they are shown, not run: they name your files)."""
    bad = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for k, block in enumerate(re.findall(r"```python\n(.*?)```", text, flags=re.S)):
            try:
                compile(block, f"{path.relative_to(DOCS)}[{k}]", "exec")
            except SyntaxError as exc:
                bad.append(f"{path.relative_to(DOCS)}: {exc}")
    assert not bad, bad


def test_readme_links_exist():
    """Every relative link of the README points at a file of the repository."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    links = [m.split("#")[0] for m in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in m]
    assert len(links) >= 10
    missing = [link for link in links if link and not (REPO / link).exists()]
    assert not missing, missing
