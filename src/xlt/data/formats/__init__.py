"""Formats of user data files, a registry of their readers, format detection and file languages.

``xlt transfer --train FILE --dev FILE --eval LANG=FILE ... --eval DIR --format F`` reads labelled
files that users bring in the formats this field uses. Every format has a reader with the
signature ``reader(path, options, limit) -> (examples, ReadStats)`` and follows the rules of
:mod:`xlt.data.readers` (UTF-8, errors name file and line, nothing dropped silently, ``limit``).
The examples are :class:`~xlt.data.readers.TaggedSentence` (token tasks),
:class:`~xlt.data.readers.TextExample` (text classification) or
:class:`~xlt.data.readers.PairExample` (sentence-pair classification).

Formats
-------
``conllu``
    CoNLL-U (Universal Dependencies); the label is the field ``ReadOptions.conllu_field``
    (``upos`` by default). See :func:`xlt.data.readers.read_conllu`.
``xtreme``
    XTREME ``token<TAB>label`` lines, a blank line between sentences (udpos, panx).
``sib200``
    SIB-200 ``index_id<TAB>category<TAB>text`` with that header line.
``conll``
    CoNLL-2002/2003 columns: one token per line, columns separated by a tab or by spaces, the
    token in column ``ReadOptions.token_column`` (default 0) and the tag in column
    ``ReadOptions.tag_column`` (default -1, the last); a blank line ends a sentence, and
    ``-DOCSTART-`` lines (with the blank line after them) are skipped and counted as
    ``docstart``::

        -DOCSTART- -X- -X- O

        EU NNP B-NP B-ORG
        rejects VBZ B-VP O

    The separator is the one of the first line (a tab if it has one, else spaces); a line using
    the other one is an error, so are lines with fewer columns than needed and a column count
    that changes inside the file. With tabs, tokens may contain spaces (``10 000<TAB>NUM``).
``csv`` / ``tsv``
    Tables with a header row, read with Python's :mod:`csv` module (quoted fields with commas,
    quotes or line breaks work, and fields of any length - the module's 131072-character limit is
    raised, see :func:`allow_long_csv_fields`; TSV tables follow the same quoting)::

        id,premise,hypothesis,label
        1,"He said ""hi"", then left.",He left.,entailment

``jsonl``
    One JSON object per line (``.jsonl``, ``.ndjson``; also ``.json``, which may instead hold
    one JSON list of objects)::

        {"text": "Great film", "label": 1}
        {"tokens": ["Anna", "lives"], "ner_tags": ["B-PER", "O"]}

``hf-disk``
    A folder written by ``datasets.Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``; a
    DatasetDict needs a split (``ReadOptions.split`` or ``FOLDER@split``). ``ClassLabel``
    labels (also ``Sequence(ClassLabel)`` tag lists) become their names.
``hf-hub``
    ``hf:NAME[:CONFIG][@SPLIT]`` loaded with ``datasets.load_dataset``; xlt works offline, so
    this only works for data sets in the local Hugging Face cache (or local folders).

Columns of tables (csv, tsv, jsonl, hf-disk, hf-hub)
----------------------------------------------------
All tables go through one function. With ``ReadOptions.text_column`` the user names the text
column (text classification), two columns (pair classification), or the column holding token
lists (token classification; then the label column holds tag lists). Without it:

1. token classification when a ``tokens``/``words`` column holds lists and a label column
   holds lists too (the first row decides);
2. else pair classification when a known pair is present - the first complete one of
   ``(premise, hypothesis)``, ``(sentence1, sentence2)``, ``(text, text_pair)``,
   ``(question, sentence)``, ``(question1, question2)`` - and no single text column outside
   that pair is (so ``text, text_pair`` and ``question, sentence`` are pairs); a single text
   column *and* an unrelated pair is ambiguous and an error;
3. else text classification with the first present of ``text, sentence, content, review,
   document``.

The label column is ``ReadOptions.label_column`` or the first present of ``label, labels,
category, class, ner_tags, tags, pos_tags, upos`` (for token tasks one holding lists).
Ids: ``ReadOptions.id_column``, else ``id``/``index_id``/``guid`` when present, else the record
number (1-based; the data row of CSV/TSV without the header, the line of JSONL, the row of a
Hugging Face dataset). Labels are kept as strings (``0`` -> ``'0'``); an empty label is an
error, an empty text is skipped and counted as ``empty_text``.

Languages of evaluation files
-----------------------------
:func:`language_from_filename` reads the language from a name (``test-de.tsv`` -> ``de``,
``dev-deu_Latn.conll`` -> ``deu_Latn``) and :func:`eval_files_in_dir` maps every data file of a
folder (or the ``test.*`` of every per-language subfolder, the SIB-200 layout) to its language.

Modules
-------
:mod:`~xlt.data.formats.options` (:class:`ReadOptions`, default column names),
:mod:`~xlt.data.formats.registry` (:class:`Format`, :data:`FORMATS`),
:mod:`~xlt.data.formats.conll` (CoNLL columns, CoNLL-U, XTREME tsv),
:mod:`~xlt.data.formats.sib200`, :mod:`~xlt.data.formats.tables` (csv, tsv, jsonl),
:mod:`~xlt.data.formats.hf` (``datasets`` folders, ``hf:`` specs),
:mod:`~xlt.data.formats.detect` (:func:`detect_format`, :func:`read_examples`),
:mod:`~xlt.data.formats.languages` (languages of file names),
:mod:`~xlt.data.formats.inputs` (unlabelled inputs of ``xlt predict``: :func:`read_inputs`). Every
public name is importable from ``xlt.data.formats``.
"""

from __future__ import annotations

from xlt.data.formats.conll import CONLL_EXTENSIONS, DOCSTART, conll_words, conllu_reader, read_conll, xtreme_reader
from xlt.data.formats.detect import detect_format, read_examples
from xlt.data.formats.hf import (
    DATASETS_FOLDER_FILES,
    HF_PREFIX,
    is_datasets_folder,
    parse_hf_spec,
    read_hf_disk,
    read_hf_hub,
)
from xlt.data.formats.inputs import INPUT_FORMATS, Inputs, input_format, read_inputs, text_inputs
from xlt.data.formats.languages import (
    SPLIT_WORDS,
    EvalFiles,
    FileLanguageError,
    eval_files_in_dir,
    language_from_filename,
)
from xlt.data.formats.options import (
    ID_COLUMNS,
    LABEL_COLUMNS,
    PAIR_COLUMNS,
    TEXT_COLUMNS,
    TOKEN_COLUMNS,
    ReadOptions,
)
from xlt.data.formats.registry import FORMATS, Format, Reader, get_format, register_format
from xlt.data.formats.sib200 import sib200_reader
from xlt.data.formats.tables import (
    allow_long_csv_fields,
    jsonl_inputs,
    read_csv,
    read_jsonl,
    read_tsv_table,
    table_inputs,
)

# --------------------------------------------------------------------------- built-in formats
for format_number in (
    Format("conllu", conllu_reader, (".conllu",),
           "CoNLL-U (Universal Dependencies); label field --conllu-field (default upos)"),
    Format("conll", read_conll, (*CONLL_EXTENSIONS, ".tsv"),
           "CoNLL columns 'EU NNP B-NP B-ORG' (tab or spaces), tag in the last column (--tag-column), "
           "blank line between sentences, -DOCSTART- skipped"),
    Format("xtreme", xtreme_reader, (".tsv",), "XTREME 'token<TAB>label' lines (udpos, panx)"),
    Format("sib200", sib200_reader, (".tsv",), "SIB-200 'index_id<TAB>category<TAB>text' with header"),
    Format("csv", read_csv, (".csv",),
           "comma-separated table with a header row (text,label / premise,hypothesis,label)"),
    Format("tsv", read_tsv_table, (".tsv",), "tab-separated table with a header row (text<TAB>label)"),
    Format("jsonl", read_jsonl, (".jsonl", ".ndjson", ".json"),
           'JSON lines {"text": ..., "label": ...} or {"tokens": [...], "ner_tags": [...]}'),
    Format("hf-disk", read_hf_disk, (),
           "folder written by datasets' save_to_disk (FOLDER@split for a DatasetDict)"),
    Format("hf-hub", read_hf_hub, (), "hf:NAME[:CONFIG][@SPLIT] from the local Hugging Face cache"),
):
    register_format(format_number)
del format_number


__all__ = [
    "DATASETS_FOLDER_FILES",
    "DOCSTART",
    "EvalFiles",
    "FORMATS",
    "FileLanguageError",
    "Format",
    "HF_PREFIX",
    "ID_COLUMNS",
    "INPUT_FORMATS",
    "Inputs",
    "LABEL_COLUMNS",
    "PAIR_COLUMNS",
    "ReadOptions",
    "Reader",
    "SPLIT_WORDS",
    "TEXT_COLUMNS",
    "TOKEN_COLUMNS",
    "allow_long_csv_fields",
    "conll_words",
    "detect_format",
    "eval_files_in_dir",
    "get_format",
    "input_format",
    "is_datasets_folder",
    "jsonl_inputs",
    "language_from_filename",
    "parse_hf_spec",
    "read_conll",
    "read_csv",
    "read_examples",
    "read_hf_disk",
    "read_hf_hub",
    "read_inputs",
    "read_jsonl",
    "read_tsv_table",
    "register_format",
    "table_inputs",
    "text_inputs",
]
