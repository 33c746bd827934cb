"""The per-response tables: latency (what started each response and how long each step
took) and token usage (with costs when prices are given). Pure functions of the events
DataFrame and the ``response.done`` payloads; :class:`.SessionFrames` serves them as
``latency()`` and ``usage()``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .columns import AUDIO_DELTA, TEXT_DELTAS, cat_mask, import_pandas, price_table

__all__ = ["latency_table", "speech_end_times", "usage_table"]


def latency_table(
    df: Any,
    records: Callable[[list[int]], list[dict[str, Any]]],
    done_records: Callable[[], dict[str, dict[str, Any]]],
) -> Any:
    """The table of :meth:`SessionFrames.latency` from the events DataFrame ``df``;
    ``records(seqs)`` reads full records, ``done_records()`` the ``response.done``
    payloads by response id."""
    pd = import_pandas()
    server = cat_mask(df, "direction", ("server",))
    client = cat_mask(df, "direction", ("client",))
    sel = np.flatnonzero(
        (cat_mask(df, "type", ("input_audio_buffer.speech_stopped",)) & server)
        | (cat_mask(df, "type", ("response.create",)) & client)
        | (cat_mask(df, "type", ("response.created",)) & server)
    )
    t_all = df["t_ms"].to_numpy()
    types = df["type"].iloc[sel].astype(object).to_numpy()
    t_ms = t_all[sel]
    rid = df["response_id"].iloc[sel].astype(object).to_numpy()
    rows: list[dict[str, Any]] = []
    trigger: tuple[str, float, float] | None = None
    speech_end = speech_end_times(df, sel, types, records)
    for i in range(len(sel)):
        kind = types[i]
        if kind == "input_audio_buffer.speech_stopped":
            trigger = ("speech", t_ms[i], speech_end.get(i, np.nan))
        elif kind == "response.create":
            trigger = ("client", t_ms[i], np.nan)
        else:
            how, when, ended = trigger if trigger is not None else ("server", np.nan, np.nan)
            rows.append(
                {
                    "response_id": rid[i],
                    "trigger": how,
                    "trigger_ms": when,
                    "created_ms": t_ms[i],
                    "speech_end_ms": ended,
                }
            )
            trigger = None
    lat = pd.DataFrame(
        rows, columns=["response_id", "trigger", "trigger_ms", "created_ms", "speech_end_ms"]
    )
    if len(lat):

        def first(mask: np.ndarray, name: str) -> Any:
            idx = np.flatnonzero(mask)
            sub = pd.DataFrame(
                {
                    "response_id": df["response_id"].iloc[idx].astype(object).to_numpy(),
                    name: t_all[idx],
                }
            )
            return sub.groupby("response_id")[name].min()

        lat = lat.set_index("response_id")
        is_text = cat_mask(df, "type", TEXT_DELTAS) & server
        is_audio = cat_mask(df, "type", (AUDIO_DELTA,)) & server
        lat["first_text_ms"] = first(is_text, "first_text_ms")
        lat["first_audio_ms"] = first(is_audio, "first_audio_ms")
        lat["done_ms"] = first(cat_mask(df, "type", ("response.done",)) & server, "done_ms")
        idx = np.flatnonzero(is_audio)
        audio_sum = pd.DataFrame(
            {
                "response_id": df["response_id"].iloc[idx].astype(object).to_numpy(),
                "a": df["audio_ms"].to_numpy()[idx],
            }
        )
        lat["audio_ms"] = audio_sum.groupby("response_id")["a"].sum().round(1)
        lat["audio_ms"] = lat["audio_ms"].fillna(0.0)
        for step, col in (
            ("to_created_ms", "created_ms"),
            ("to_first_text_ms", "first_text_ms"),
            ("to_first_audio_ms", "first_audio_ms"),
            ("to_done_ms", "done_ms"),
        ):
            lat[step] = (lat[col] - lat["trigger_ms"]).round(3)
        lat["voice_to_voice_ms"] = (lat["first_audio_ms"] - lat["speech_end_ms"]).round(3)
        done = done_records()
        lat["status"] = [(done.get(r) or {}).get("status") for r in lat.index]
        reasons = []
        for r in lat.index:
            details = (done.get(r) or {}).get("status_details") or {}
            reason = details.get("reason") if isinstance(details, dict) else None
            if (
                reason is None
                and isinstance(details, dict)
                and isinstance(details.get("error"), dict)
            ):
                reason = details["error"].get("code") or details["error"].get("type")
            reasons.append(reason)
        lat["reason"] = reasons
        lat["interrupted"] = lat["status"].isin(["cancelled", "incomplete"]) & lat["reason"].isin(
            ["turn_detected", "client_cancelled"]
        )
        lat = lat.reset_index()
    else:
        for col in (
            "first_text_ms",
            "first_audio_ms",
            "done_ms",
            "audio_ms",
            "to_created_ms",
            "to_first_text_ms",
            "to_first_audio_ms",
            "to_done_ms",
            "voice_to_voice_ms",
            "status",
            "reason",
            "interrupted",
        ):
            lat[col] = pd.Series(dtype=object if col in ("status", "reason") else float)
    cols = [
        "response_id",
        "trigger",
        "trigger_ms",
        "created_ms",
        "first_text_ms",
        "first_audio_ms",
        "done_ms",
        "to_created_ms",
        "to_first_text_ms",
        "to_first_audio_ms",
        "to_done_ms",
        "speech_end_ms",
        "voice_to_voice_ms",
        "audio_ms",
        "status",
        "reason",
        "interrupted",
    ]
    return lat[cols]


def speech_end_times(
    df: Any,
    sel: np.ndarray,
    types: np.ndarray,
    records: Callable[[list[int]], list[dict[str, Any]]],
) -> dict[int, float]:
    """For each ``speech_stopped`` among ``sel`` (by position), the time on the events'
    clock at which the user's last speech sample was streamed.

    Where speech ended on the input timeline: ``audio_end_ms`` minus the server-VAD
    silence wait in force (``silence_duration_ms`` of the latest ``session.created`` /
    ``session.updated``; ``semantic_vad`` reports the end itself). That position is
    mapped to a time through the client's appends: the append that carried it was sent
    at ``t_ms``, and the sample was captured ``(audio up to the end of that append) -
    position`` earlier. Only the local engine's and the service's preview/GA
    ``audio_end_ms`` count appended audio from the session's start, so the mapping is
    exact when every append of the session is in the log."""
    out: dict[int, float] = {}
    stops = [i for i in range(len(sel)) if types[i] == "input_audio_buffer.speech_stopped"]
    if not stops:
        return out
    client = cat_mask(df, "direction", ("client",))
    appends = np.flatnonzero(client & cat_mask(df, "type", ("input_audio_buffer.append",)))
    if not len(appends):
        return out
    t_all = df["t_ms"].to_numpy()
    cum = np.cumsum(np.nan_to_num(df["audio_ms"].to_numpy()[appends]))
    t_app = t_all[appends]
    sessions = np.flatnonzero(
        cat_mask(df, "type", ("session.created", "session.updated"))
        & cat_mask(df, "direction", ("server",))
    )
    recs = records(df["seq"].iloc[sessions].tolist()) if len(sessions) else []
    waits = []
    for rec in recs:
        sess = (rec.get("event") or {}).get("session") or {}
        td = (
            sess.get("turn_detection")
            if "turn_detection" in sess
            else ((sess.get("audio") or {}).get("input") or {}).get("turn_detection")
        )
        td = td if isinstance(td, dict) else {}
        waits.append(
            0.0 if td.get("type") == "semantic_vad" else float(td.get("silence_duration_ms", 500))
        )
    end_ms = df["audio_end_ms"].to_numpy()
    for i in stops:
        row = sel[i]
        k = int(np.searchsorted(sessions, row)) - 1
        wait = waits[k] if k >= 0 else 500.0
        pos = float(end_ms[row]) - wait
        j = int(np.searchsorted(cum, pos))
        if np.isfinite(pos) and j < len(cum):
            out[i] = float(t_app[j] - (cum[j] - pos))
    return out


def usage_table(
    df: Any,
    done_records: Callable[[], dict[str, dict[str, Any]]],
    prices: Mapping[str, float] | None = None,
    *,
    total: bool = False,
) -> Any:
    """The table of :meth:`SessionFrames.usage` from the events DataFrame ``df``;
    ``done_records()`` gives the ``response.done`` payloads by response id."""
    pd = import_pandas()
    order = df[cat_mask(df, "type", ("response.done",))]["response_id"].astype(object).tolist()
    done = done_records()
    rows = []
    for r in order:
        resp = done.get(str(r)) or {}
        u = resp.get("usage") or {}
        ind = u.get("input_token_details") or {}
        outd = u.get("output_token_details") or {}
        cdet = ind.get("cached_tokens_details") or {}
        inp = _num(u.get("input_tokens"))
        cached = _num(ind.get("cached_tokens"))
        in_text, in_audio = _num(ind.get("text_tokens")), _num(ind.get("audio_tokens"))
        if cdet:
            c_text, c_audio = _num(cdet.get("text_tokens")), _num(cdet.get("audio_tokens"))
        else:
            both = (in_text or 0) + (in_audio or 0)
            c_text = (cached or 0) * (in_text or 0) / both if both else 0.0
            c_audio = (cached or 0) - c_text
        rows.append(
            {
                "response_id": r,
                "status": resp.get("status"),
                "input_tokens": inp,
                "cached_tokens": cached,
                "uncached_input_tokens": (inp or 0) - (cached or 0),
                "input_text_tokens": in_text,
                "input_audio_tokens": in_audio,
                "cached_text_tokens": c_text,
                "cached_audio_tokens": c_audio,
                "output_tokens": _num(u.get("output_tokens")),
                "output_text_tokens": _num(outd.get("text_tokens")),
                "output_audio_tokens": _num(outd.get("audio_tokens")),
                "total_tokens": _num(u.get("total_tokens")),
            }
        )
    cols = [
        "response_id",
        "status",
        "input_tokens",
        "cached_tokens",
        "uncached_input_tokens",
        "input_text_tokens",
        "input_audio_tokens",
        "cached_text_tokens",
        "cached_audio_tokens",
        "output_tokens",
        "output_text_tokens",
        "output_audio_tokens",
        "total_tokens",
    ]
    out = pd.DataFrame(rows, columns=cols)
    for c in cols[2:]:
        out[c] = pd.to_numeric(out[c]).astype(float)
    if prices is not None:
        price = price_table(prices)
        per = 1_000_000.0
        out["cost_input_text"] = (
            (out["input_text_tokens"].fillna(0) - out["cached_text_tokens"].fillna(0))
            * price["input_text"]
            / per
        )
        out["cost_cached_text"] = out["cached_text_tokens"].fillna(0) * price["cached_text"] / per
        out["cost_input_audio"] = (
            (out["input_audio_tokens"].fillna(0) - out["cached_audio_tokens"].fillna(0))
            * price["input_audio"]
            / per
        )
        out["cost_cached_audio"] = (
            out["cached_audio_tokens"].fillna(0) * price["cached_audio"] / per
        )
        out["cost_output_text"] = out["output_text_tokens"].fillna(0) * price["output_text"] / per
        out["cost_output_audio"] = (
            out["output_audio_tokens"].fillna(0) * price["output_audio"] / per
        )
        out["cost"] = out[[c for c in out.columns if c.startswith("cost_")]].sum(axis=1)
    if total:
        sums = (
            out.drop(columns=["response_id", "status"]).sum(numeric_only=True).to_frame("total").T
        )
        sums.insert(0, "responses", len(out))
        return sums
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
