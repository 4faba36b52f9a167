"""Argument types shared by several commands."""

from __future__ import annotations

import argparse


def seeds_arg(text: str) -> list[int]:
    """``"0,1,2"`` or ``"3"`` (meaning 0,1,2) → list of seeds."""
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("--seeds needs a positive count or a comma-separated list")
    return list(range(n))


def layer_arg(text: str) -> str:
    """``mix``, ``last`` or a (possibly negative) layer number, as given."""
    if text in {"mix", "last"}:
        return text
    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layer must be 'mix', 'last' or an integer, got {text!r}") from None
    return text


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")
