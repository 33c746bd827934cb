"""Word error rate: how far one transcript is from another, in word edits."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["normalize_words", "word_edits", "word_error_rate"]

_WORD = re.compile(r"[a-z0-9']+")


def normalize_words(text: str | None) -> list[str]:
    """Lower-cased words, punctuation dropped, hyphens split ("quick-brown" = "quick brown")."""
    text = (text or "").lower().replace("-", " ")
    return [w.strip("'") for w in _WORD.findall(text) if w.strip("'")]


def word_edits(reference: str | None, hypothesis: str | None) -> tuple[int, int]:
    """``(word edit distance, reference word count)``: the Levenshtein distance over
    normalized words, one numpy row at a time (insertions along a row are a running
    minimum, so no Python loop runs over the hypothesis)."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref or not hyp:
        return max(len(ref), len(hyp)), len(ref)
    vocab: dict[str, int] = {}
    r = np.array([vocab.setdefault(w, len(vocab)) for w in ref])
    h = np.array([vocab.setdefault(w, len(vocab)) for w in hyp])
    cols = np.arange(len(h) + 1)
    prev = cols.copy()
    for i, word in enumerate(r, 1):
        best = np.empty_like(prev)
        best[0] = i
        # deletion (from above) or substitution / match (diagonal)
        best[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (h != word))
        # insertion (from the left): cur[j] = min over k <= j of best[k] + (j - k)
        prev = np.minimum.accumulate(best - cols) + cols
    return int(prev[-1]), len(ref)


def word_error_rate(references: Sequence[str | None], hypotheses: Sequence[str | None]) -> float:
    """Corpus WER: total word edits / total reference words (NaN without reference words)."""
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses differ in length")
    errors = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        e, n = word_edits(ref, hyp)
        errors += e
        words += n
    return errors / words if words else float("nan")
