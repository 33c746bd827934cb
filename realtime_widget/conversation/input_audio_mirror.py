"""The client's mirror of the server's input audio buffer, as far as the conversation needs it.

Appended audio is kept as PCM16 at the rate of the input format. The buffer also
knows where it starts on the session's audio clock (milliseconds of all audio
appended during the session, the clock of the service's ``audio_start_ms`` /
``audio_end_ms``), and where the client committed it, so that the audio the server
reports as committed can be cut out exactly even when the client went on
appending while the server's ``input_audio_buffer.committed`` was on its way.
"""

from __future__ import annotations

from collections import deque

from .. import audio
from .records import pcm16_bytes_for_ms, pcm16_ms

__all__ = ["InputAudioMirror"]


class InputAudioMirror:
    """Uncommitted input audio: ``data`` (PCM16 at ``sample_rate``) in ``format``."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.format = "pcm16"
        self.start_ms = 0.0  # where ``data`` starts on the session's audio clock
        self._commits: deque[tuple[int, str | None]] = deque()  # (end byte, client event_id)
        self._client_clears = 0

    @property
    def sample_rate(self) -> int:
        return audio.sample_rate(self.format)

    @property
    def ms(self) -> float:
        return pcm16_ms(len(self.data), self.sample_rate)

    def append(self, pcm: bytes, fmt: str) -> bool:
        """Append PCM16 ``pcm`` decoded from ``fmt``. When the format changed, the
        audio of the old format is dropped first; returns False if there was some."""
        kept = True
        if fmt != self.format:
            kept = not self.data
            self.drop(len(self.data))
            self.format = fmt
        self.data.extend(pcm)
        return kept

    def drop(self, nbytes: int) -> None:
        """Remove the first ``nbytes``, advancing the clock and the commit marks."""
        del self.data[:nbytes]
        self.start_ms += pcm16_ms(nbytes, self.sample_rate)
        self._commits = deque((end - nbytes, eid) for end, eid in self._commits if end > nbytes)

    def keep_last(self, ms: float) -> None:
        """Drop all but the last ``ms`` of audio, unless a client commit is pending
        (its audio must stay until the server answers)."""
        excess = len(self.data) - 2 * int(ms * self.sample_rate / 1000)
        if excess > 0 and not self._commits:
            self.drop(excess - excess % 2)

    # ---- client events (applied when sent)

    def client_commit(self, event_id: str | None) -> None:
        self._commits.append((len(self.data), event_id))

    def client_clear(self) -> None:
        self._client_clears += 1
        self.drop(len(self.data))

    def forget_commit(self, event_id: str) -> None:
        """The server rejected the client's commit ``event_id``: its audio stays."""
        self._commits = deque(m for m in self._commits if m[1] != event_id)

    # ---- server events

    def server_cleared(self) -> None:
        if self._client_clears:  # answers a client clear, applied when it was sent
            self._client_clears -= 1
        else:
            self.drop(len(self.data))

    def take_committed(self, audio_start_ms: float | None, audio_end_ms: float | None) -> bytes:
        """Remove and return the audio the server committed:

        1. with ``audio_end_ms`` (server VAD's ``speech_stopped``) inside the buffer:
           the audio from ``audio_start_ms`` (or the buffer's start) to there;
        2. else, after a client commit: the buffer as it was at that commit;
        3. else the whole buffer.

        Audio after the committed part stays for the next turn.
        """
        rate, size = self.sample_rate, len(self.data)
        start, end = 0, size
        vad_end = None
        if audio_end_ms is not None:
            vad_end = pcm16_bytes_for_ms(audio_end_ms - self.start_ms, rate)
        if vad_end is not None and 0 < vad_end <= size:
            end = vad_end
            start = pcm16_bytes_for_ms((audio_start_ms or 0) - self.start_ms, rate)
            start = start if start < end else 0
        elif self._commits:
            end = min(self._commits.popleft()[0], size)
        committed = bytes(self.data[start:end])
        self.drop(end)
        return committed
