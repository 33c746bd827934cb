"""semantic_vad: the Smart Turn end-of-turn model (from the pipecat-ai wheel) and its engine.

Speech is Piper's (the engine's own TTS voices) so the model hears natural prosody.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

pytest.importorskip(
    "onnxruntime", reason="the offline speech stack (pip install '.[local]') is not installed"
)
if importlib.util.find_spec("pipecat") is None:  # pragma: no cover - depends on the environment
    pytest.skip(
        "the end-of-turn model is not installed: pip install --no-deps pipecat-ai==1.14.0",
        allow_module_level=True,
    )

from engine_client import EngineClient, eventually  # noqa: E402

from realtime_widget.engine.speech import SpeechModelsUnavailable  # noqa: E402
from realtime_widget.engine.speech.end_of_turn import (  # noqa: E402
    EAGERNESS,
    MODEL_SAMPLES,
    RING_SECONDS,
    SAMPLE_RATE,
    fit_window,
    log_mel_features,
    prepare_turn,
    smart_turn_model_path,
)
from realtime_widget.engine.speech.tts import VOICES, VoiceSettings  # noqa: E402

pytestmark = pytest.mark.timeout(180)
RATE = 24000


@pytest.fixture(scope="module")
def models():
    from realtime_widget.engine.speech import get_speech_models

    return get_speech_models(warm_up=True)


# Piper samples its prosody and durations at random (VITS noise), and the end-of-turn model's
# verdict on one sentence then ranges from about 0.7 to 0.98 between runs. The tests speak
# with the noise off, so each run hears the same audio and a verdict is reproducible.
STEADY_VOICE = dataclasses.replace(VOICES["alloy"], noise_scale=0.0, noise_w=0.0)


def say(models, text: str, voice: VoiceSettings = STEADY_VOICE) -> np.ndarray:
    return np.frombuffer(models.synthesizer.synthesize(text, voice), dtype=np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), dtype=np.int16)


def feed(segmenter, x: np.ndarray, chunk: int = 480) -> list:
    events = []
    for i in range(0, len(x), chunk):  # 20 ms appends, as a microphone sends them
        events += segmenter.feed(x[i : i + chunk])
    return events


def reference_signal() -> np.ndarray:
    """A deterministic 3 s 'voice' (140 Hz harmonics under a 3 Hz syllable envelope plus a
    chirp), zero-padded at the front to the model's 8 s window."""
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    env = 0.5 * (1 - np.cos(2 * np.pi * 3 * t))
    x = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 8)) * env * 0.2
    x = (x + 0.05 * np.sin(2 * np.pi * (300 + 1000 * t) * t)).astype(np.float32)
    return fit_window(x)


def test_log_mel_features_match_transformers():
    """Expected values computed once with the reference, transformers 5.25.0:
    ``WhisperFeatureExtractor(chunk_length=8)(x, sampling_rate=16000, padding="max_length",
    max_length=128000, truncation=True, do_normalize=True)`` on :func:`reference_signal`
    (all 64,000 values agreed to 1.2e-7)."""
    f = log_mel_features(reference_signal())
    assert f.shape == (80, 800) and f.dtype == np.float32
    assert f.mean() == pytest.approx(0.0010934, abs=1e-6)
    assert f.std() == pytest.approx(0.4976473, abs=1e-6)
    idx = [(0, 0), (5, 400), (10, 600), (40, 700), (79, 799), (20, 650), (60, 520)]
    expected = [-0.205138, -0.205138, 0.145054, -0.205138, 0.215846, 1.22947, -0.205138]
    assert [float(f[i, j]) for i, j in idx] == pytest.approx(expected, abs=2e-6)


def test_window_keeps_the_last_eight_seconds():
    long = np.arange(MODEL_SAMPLES + 5000, dtype=np.float32)
    assert np.array_equal(fit_window(long), long[-MODEL_SAMPLES:])
    short = np.ones(100, dtype=np.float32)
    w = fit_window(short)
    assert w.shape == (MODEL_SAMPLES,) and w[:-100].sum() == 0 and w[-100:].sum() == 100


def test_the_model_hears_the_turn_without_its_silences():
    """Trailing silence is cut, a long inner pause is shortened to 150 ms, the lead is kept."""
    rng = np.random.default_rng(0)
    word = (0.3 * rng.standard_normal(SAMPLE_RATE // 2)).astype(np.float32)  # 500 ms, loud
    hiss = (1e-4 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)  # 1 s, quiet
    turn = np.concatenate([hiss[:3200], word, hiss, word, hiss[:1600]])
    out = prepare_turn(turn)
    assert out.shape[0] == 3200 + 8000 + 2400 + 8000
    assert np.array_equal(out[-8000:], word) and np.array_equal(out[:3200], hiss[:3200])
    assert prepare_turn(hiss) is hiss  # nothing louder than its own noise floor: left as it is


def test_model_ships_in_the_wheel_and_is_not_imported():
    path = smart_turn_model_path()
    assert path.name == "smart-turn-v3.2-cpu.onnx" and path.stat().st_size > 8_000_000
    import sys

    assert (
        "pipecat" not in sys.modules
    )  # located, never imported (its dependencies are not installed)


def test_model_hears_finished_and_unfinished_sentences(models):
    import soxr

    from realtime_widget.engine.speech.models import get_turn_model

    model = get_turn_model()

    def prob(text: str) -> float:
        x = say(models, text).astype(np.float32) / 32768.0
        nz = np.nonzero(np.abs(x) > 0.01)[0]
        return model.probability(soxr.resample(x[: nz[-1] + 1], RATE, SAMPLE_RATE))

    assert prob("Please book a table for two tonight.") > 0.8
    assert prob("I would like to fly to") < 0.5


def test_semantic_vad_holds_a_mid_sentence_pause_that_server_vad_cuts(models):
    paused = np.concatenate(
        [
            silence(0.5),
            say(models, "I would like to fly to"),
            silence(1.0),
            say(models, "Boston on Friday."),
            silence(4.5),
        ]
    )
    server = [type(e).__name__ for e in feed(models.new_segmenter(), paused)]
    assert server == ["SpeechStarted", "SpeechStopped", "SpeechStarted", "SpeechStopped"]
    events = feed(models.new_semantic_segmenter("auto"), paused)
    assert [type(e).__name__ for e in events] == ["SpeechStarted", "SpeechStopped"]
    # one turn, ending after "Friday"
    assert events[1].speech_end_ms > 3000


def test_eagerness_orders_the_wait(models):
    # the silence covers "low"'s longest wait (3 s)
    x = np.concatenate(
        [silence(0.5), say(models, "Please book a table for two tonight."), silence(3.5)]
    )
    waits = {}
    for eagerness in ("high", "auto", "low"):
        seg = models.new_semantic_segmenter(eagerness)
        for i in range(0, len(x), 480):  # where in the stream the turn is declared over
            stopped = [e for e in seg.feed(x[i : i + 480]) if type(e).__name__ == "SpeechStopped"]
            if stopped:
                assert (
                    stopped[0].audio_end_ms == stopped[0].speech_end_ms
                )  # no wait inside the turn
                waits[eagerness] = (i + 480) / 24 - stopped[0].speech_end_ms
                break
    assert waits["high"] <= waits["auto"] < waits["low"] <= EAGERNESS["low"].max_wait_ms + 100
    assert waits["auto"] < 500  # a sure verdict, not the longest wait


def test_the_model_is_asked_at_the_first_silent_frame_and_read_at_judge_ms(models):
    """The model call runs while the silence that lets it judge is still being heard: it is
    asked on the first silent frame, and the turn ends at ``judge_ms`` with that answer."""
    from realtime_widget.engine.speech.end_of_turn import SemanticVadSegmenter, SmartTurnModel

    asked_after_ms: list[float] = []

    class Recorded(SmartTurnModel):
        def judge(self, audio16k):
            asked_after_ms.append(seg.processed_ms - seg.pending_speech_end_ms)
            return super().judge(audio16k)

    from realtime_widget.engine.speech.models import get_turn_model

    seg = SemanticVadSegmenter(Recorded(get_turn_model().session), "auto")
    x = np.concatenate(
        [silence(0.5), say(models, "Please book a table for two tonight."), silence(2.0)]
    )
    for i in range(0, len(x), 480):
        stopped = [e for e in seg.feed(x[i : i + 480]) if type(e).__name__ == "SpeechStopped"]
        if stopped:
            break
    assert stopped, "the turn never ended"
    # one question per pause, asked one frame (32 ms) into the silence, not at judge_ms
    assert len(asked_after_ms) == seg.judgements >= 1
    assert asked_after_ms[-1] <= 32 < EAGERNESS["auto"].judge_ms
    speech_end, probability = seg.last_judgement
    assert speech_end == stopped[0].speech_end_ms
    waited = (i + 480) / 24 - speech_end
    assert probability >= EAGERNESS["auto"].threshold  # a finished sentence, said steadily
    assert waited < EAGERNESS["auto"].judge_ms + 32 + 20


@pytest.mark.parametrize("noise_dbfs", [None, -50.0, -35.0])
def test_silence_and_noise_never_start_a_turn(models, noise_dbfs):
    x = np.zeros(RATE * 4, dtype=np.float32)
    if noise_dbfs is not None:
        x = np.random.default_rng(1).standard_normal(x.size) * 10 ** (noise_dbfs / 20)
    pcm = np.clip(x * 32768, -32768, 32767).astype(np.int16)
    assert feed(models.new_semantic_segmenter("high"), pcm) == []


def test_a_long_monologue_ends_with_bounded_memory(models):
    """60 s of speech with only short breaths: the model only ever sees 8 s, the segmenter
    keeps at most 2 x RING_SECONDS of audio, and the turn ends when the talking does."""
    sentence = say(models, "and then we walked along the river and talked about the old days")
    reps = int(np.ceil(60 * RATE / sentence.size))
    talk = np.concatenate([np.concatenate([sentence, silence(0.05)]) for _ in range(reps)])
    seg = models.new_semantic_segmenter("auto")
    events = feed(seg, np.concatenate([silence(0.3), talk]), chunk=4800)
    assert seg._ring.shape[0] <= 2 * RING_SECONDS * SAMPLE_RATE
    events += feed(seg, silence(4.5), chunk=4800)
    starts = [e for e in events if type(e).__name__ == "SpeechStarted"]
    stops = [e for e in events if type(e).__name__ == "SpeechStopped"]
    assert starts and stops and stops[-1].speech_end_ms > talk.size * 1000 / RATE - 1000


def test_unknown_eagerness_is_refused(models):
    with pytest.raises(ValueError, match="eagerness"):
        models.new_semantic_segmenter("eager")


# -- through the engine's WebSocket --------------------------------------------------------


async def test_unknown_eagerness_is_an_invalid_value_naming_the_field(client: EngineClient):
    event_id = await client.send(
        {
            "type": "session.update",
            "session": {"turn_detection": {"type": "semantic_vad", "eagerness": "eager"}},
        }
    )
    error = await client.error_for(event_id)
    assert error["code"] == "invalid_value" and error["param"] == "session.turn_detection.eagerness"


async def test_missing_model_refuses_semantic_vad_with_the_package_to_install(
    client: EngineClient, monkeypatch
):
    """Simulates a machine without the pipecat-ai wheel: the update is refused with an
    error naming the install command, and the session keeps server VAD (no silent fall-back)."""
    from realtime_widget.engine.speech import end_of_turn as turn
    from realtime_widget.engine.speech import models as speech_models

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        turn.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pipecat" else real_find_spec(name, *a),
    )
    monkeypatch.setattr(speech_models, "_turn", speech_models._Once(turn.SmartTurnModel.load))
    with pytest.raises(SpeechModelsUnavailable, match="pip install --no-deps pipecat-ai==1.14.0"):
        speech_models.get_turn_model()
    event_id = await client.send(
        {"type": "session.update", "session": {"turn_detection": {"type": "semantic_vad"}}}
    )
    error = await client.error_for(event_id)
    assert error["param"] == "session.turn_detection.type"
    assert "pip install --no-deps pipecat-ai==1.14.0" in error["message"]
    await client.send({"type": "session.update", "session": {"instructions": "still here"}})
    session = (await client.wait_for("session.updated"))["session"]
    assert session["turn_detection"]["type"] == "server_vad"


async def test_semantic_vad_answers_a_paused_sentence_once(client: EngineClient, speech_stack):
    models = speech_stack.models
    await client.send(
        {
            "type": "session.update",
            "session": {
                "modalities": ["text"],
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "semantic_vad", "eagerness": "auto"},
            },
        }
    )
    session = (await client.wait_for("session.updated"))["session"]
    assert session["turn_detection"] == {"type": "semantic_vad", "eagerness": "auto"}
    paused = np.concatenate(
        [
            silence(0.3),
            say(models, "I would like to fly to"),
            silence(1.0),
            say(models, "Boston on Friday."),
            silence(4.5),
        ]
    )
    await client.append_audio(paused.astype("<i2").tobytes())
    done = await client.wait_for("response.done")
    assert done["response"]["status"] == "completed"
    assert len(client.of_type("input_audio_buffer.speech_stopped")) == 1
    (transcribed,) = client.of_type("conversation.item.input_audio_transcription.completed")
    heard = transcribed["transcript"].lower()
    # both halves are in the one turn ("Boston" is the word recognition most often gets
    # wrong, so the words checked are the plainer ones, plus a bound)
    assert "fly" in heard and "friday" in heard, heard
    from speech_fixtures import word_errors

    assert word_errors("I would like to fly to Boston on Friday.", heard)[0] <= 2, heard


# -- the words' half of the decision -------------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "unfinished"),
    [
        ("Please send the report to.", True),  # what Moonshine writes for the first half
        ("My favorite colors,", True),  # the recogniser itself heard it go on
        ("I would like a table for two and", True),
        ("Can you tell me about the?", True),
        ("So, um", True),
        ("Please book a table for two tonight.", False),
        ("Where are you from?", False),  # a wh-word strands the preposition
        ("Tell me what the time is.", False),
        ("What is the weather like in Paris?", False),
        ("Remind me to call.", False),  # finished: the model's call to make
        ("", False),  # nothing heard: no evidence either way
    ],
)
def test_words_that_trail_off(heard, unfinished):
    from realtime_widget.engine.speech.trailing_text import trails_off

    assert trails_off(heard) is unfinished


def _report_to_sarah(models) -> np.ndarray:
    """A sentence with a 1 s pause whose first half the model, on sound alone, calls
    finished (0.64 in the steady voice), while its words ("... the report to") are not."""
    return np.concatenate(
        [
            silence(0.3),
            say(models, "Please send the report to"),
            silence(1.0),
            say(models, "Sarah by Friday."),
            silence(2.5),
        ]
    )


async def test_semantic_vad_holds_a_turn_whose_words_trail_off(client: EngineClient, speech_stack):
    models = speech_stack.models
    paused = _report_to_sarah(models)
    # the model alone cuts at the pause, marking the end for the engine to confirm
    alone = feed(models.new_semantic_segmenter("auto"), paused)
    assert [type(e).__name__ for e in alone] == [
        "SpeechStarted",
        "SpeechStopped",
        "SpeechStarted",
        "SpeechStopped",
    ]
    assert alone[1].confirm_words and alone[1].speech_end_ms < 2500

    async def turns(eagerness: str, chunk_bytes: int) -> tuple[list[dict], list[str]]:
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "modalities": ["text"],
                    "input_audio_transcription": {"model": "whisper-1"},
                    "turn_detection": {"type": "semantic_vad", "eagerness": eagerness},
                },
            }
        )
        await client.wait_for("session.updated")
        since = client.mark()
        await client.append_audio(paused.astype("<i2").tobytes(), chunk_bytes=chunk_bytes)
        await client.append_audio(silence(1.5).astype("<i2").tobytes())  # past any fallback
        await client.sync()
        await eventually(
            lambda: (
                len(client.of_type("response.done", since=since))
                == len(client.of_type("input_audio_buffer.speech_stopped", since=since))
            ),
            "every turn answered",
        )
        heard = [
            e["transcript"].lower()
            for e in client.of_type(
                "conversation.item.input_audio_transcription.completed", since=since
            )
        ]
        return client.of_type("input_audio_buffer.speech_stopped", since=since), heard

    # the engine reads the words at the judged end and holds the turn: one turn, both
    # halves; in 100 ms appends and in one append of the whole sentence alike
    for chunk_bytes in (4800, paused.size * 2):
        stopped, heard = await turns("auto", chunk_bytes)
        assert len(stopped) == 1, heard
        assert "report" in heard[0] and "friday" in heard[0], heard
        assert stopped[0]["audio_end_ms"] > alone[3].speech_end_ms - 100
    # "high" ends turns as soon as it can and does not wait for the words: cut at the pause
    stopped, heard = await turns("high", 4800)
    assert len(stopped) == 2 and "report" in heard[0] and "friday" in heard[1], heard


# -- what the recogniser hears -----------------------------------------------------------


def test_recognition_hears_exactly_300_ms_after_the_speech():
    """Cut at the last loud frame (the VAD's first silent frame): 300 ms of zeros are added;
    seconds of trailing silence (a manual commit): cut to 300 ms. Leading silence: <= 300 ms."""
    from realtime_widget.engine.speech.asr import speech_with_margins

    rng = np.random.default_rng(0)
    word = (0.3 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)
    quiet = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    margin = 3 * SAMPLE_RATE // 10
    cut_short = speech_with_margins(np.concatenate([quiet, word]))
    assert cut_short.shape[0] == margin + word.size + margin
    assert np.array_equal(cut_short[margin:-margin], word) and not cut_short[-margin:].any()
    long_tail = speech_with_margins(np.concatenate([quiet, word, quiet, quiet]))
    assert np.array_equal(long_tail, cut_short)


async def test_server_vad_and_manual_commit_hear_the_same_words(server):
    """The same question through server VAD (speculative recognition started at the first
    silent frame) and through a manual commit of a buffer ending in 3 s of silence: both
    transcripts are right to within two word errors in ten (issue 14, item 5)."""
    from speech_fixtures import espeak_available, speech_with_silence, wer

    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    text = "What is the weather like in Paris?"
    signal = speech_with_silence((0.5, text, 3.0))
    heard = {}
    for path, td in (("server_vad", {"type": "server_vad"}), ("manual", None)):
        client = await server.connect()
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "modalities": ["text"],
                    "input_audio_transcription": {"model": "whisper-1"},
                    "turn_detection": td,
                },
            }
        )
        await client.wait_for("session.updated")
        await client.append_audio(signal.pcm16, chunk_bytes=960)
        if td is None:
            await client.send({"type": "input_audio_buffer.commit"})
        event = await client.wait_for("conversation.item.input_audio_transcription.completed")
        heard[path] = event["transcript"]
        await client.close()
    assert wer([text], [heard["server_vad"]]) <= 0.2, heard
    assert wer([text], [heard["manual"]]) <= 0.2, heard


async def test_a_pause_inside_the_turn_emits_nothing_and_answers_once(client: EngineClient):
    """Speculative recognition starts at each silence; the pause that did not end the turn
    leaves no trace (one committed item, one transcript, one response)."""
    from speech_fixtures import espeak_available, speech_with_silence

    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    await client.send(
        {
            "type": "session.update",
            "session": {
                "modalities": ["text"],
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 800},
            },
        }
    )
    await client.wait_for("session.updated")
    signal = speech_with_silence((0.5, "I would like to fly to", 0.45, "Boston on Friday.", 2.0))
    await client.append_audio(signal.pcm16, chunk_bytes=960)
    await client.wait_for("response.done")
    await client.sync()
    assert len(client.of_type("input_audio_buffer.committed")) == 1
    (heard,) = client.of_type("conversation.item.input_audio_transcription.completed")
    assert "boston" in heard["transcript"].lower()
    assert len(client.of_type("response.created")) == 1


async def test_noise_alone_never_starts_a_semantic_vad_response(client: EngineClient):
    """Through the engine: 4 s of silence then 4 s of white noise (-35 dBFS) under
    semantic_vad: no speech_started, nothing committed, no response."""
    await client.send(
        {
            "type": "session.update",
            "session": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}},
        }
    )
    await client.wait_for("session.updated")
    noise = np.random.default_rng(2).standard_normal(RATE * 4) * 10 ** (-35 / 20) * 32768
    audio = np.concatenate([silence(4.0), np.clip(noise, -32768, 32767).astype(np.int16)])
    await client.append_audio(audio.astype("<i2").tobytes(), chunk_bytes=960)
    await client.sync()
    assert not client.of_type(
        "input_audio_buffer.speech_started", "input_audio_buffer.committed", "response.created"
    )


def test_missing_feature_code_names_the_package(tmp_path, monkeypatch):
    """A pipecat-ai wheel without the log-mel module (another version, a partial copy):
    loading fails at once, naming the install command, not at the first turn."""
    from realtime_widget.engine.speech import end_of_turn as turn

    data = tmp_path / "data"
    data.mkdir()
    (data / smart_turn_model_path().name).write_bytes(smart_turn_model_path().read_bytes())
    monkeypatch.setattr(turn, "_smart_turn_dir", lambda: tmp_path)
    monkeypatch.setattr(turn, "_features", None)
    with pytest.raises(SpeechModelsUnavailable, match="pip install --no-deps pipecat-ai==1.14.0"):
        turn.SmartTurnModel.load()


def test_send_audio_keeps_the_silence_going_until_semantic_vad_ends_the_turn(live_session, models):
    """An unfinished-sounding turn is held by the end-of-turn model until its longest wait
    (3 s for low): Session.send_audio's trailing silence must last that long, or the turn
    never ends and the call waits for nothing."""
    s = live_session(
        session={"turn_detection": {"type": "semantic_vad", "eagerness": "low"}},
    )
    reply = s.send_audio(say(models, "I would like to fly to"), wait=True, timeout=60)
    stopped = s.wait_for("input_audio_buffer.speech_stopped", since=0, timeout=5)
    assert reply.status == "completed" and stopped["audio_end_ms"] > 0
