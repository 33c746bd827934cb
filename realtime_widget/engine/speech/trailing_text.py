"""Does a transcript stop mid-sentence? The words' half of ``semantic_vad``'s decision.

Smart Turn hears the sound of a pause; on synthetic voices it calls many half sentences
finished ("My favourite colour is": 0.94). Their transcripts give them away: the
recogniser writes what it heard, and a turn that ends on "the", "and" or "to", or that
the recogniser itself closes with a comma, is not finished. The engine checks the
speculative transcript (ready about when the turn would end: the first audio waits for
it anyway) before it ends a turn the model judged finished, and holds the turn if the
words trail off. Rules on the last word, not a language model: no model that judges
text ships in a wheel (``../shared/research/offline-speech.md``).

A held turn is not lost: new speech continues it, and the eagerness's ``max_wait_ms``
still ends it. So a wrong hold costs a wait, never a cut.
"""

from __future__ import annotations

import re

__all__ = ["trails_off"]

# words a finished sentence practically never ends on
_ALWAYS_UNFINISHED = frozenset(
    "a an the my your our their and or but because although if than um uh er erm".split()
)
# these end a sentence only when a wh-word left them stranded ("Where are you from?",
# "Tell me what the time is"), so they count only in a turn without one
_UNFINISHED_WITHOUT_WH = frozenset("to of for from with at by is are was were".split())
_WH_WORDS = frozenset("what who whom whose where which when why how".split())
_WORD = re.compile(r"[a-z']+")


def trails_off(transcript: str) -> bool:
    """True when ``transcript`` stops mid-sentence: it ends on a comma, a dash or an
    ellipsis, or its last word is one a finished sentence does not end on."""
    text = transcript.strip().lower()
    if not text:
        return False  # nothing heard: nothing to go on
    if text.endswith((",", "...", "…", "-", "—")):
        return True
    words = _WORD.findall(text)
    if not words:
        return False
    last = words[-1]
    if last in _ALWAYS_UNFINISHED:
        return True
    return last in _UNFINISHED_WITHOUT_WH and not _WH_WORDS.intersection(words)
