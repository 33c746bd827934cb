"""Command line: ``realtime-widget serve`` runs the local engine as a realtime server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realtime-widget", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the offline realtime engine as a WebSocket server")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (non-loopback needs --api-key)"
    )
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument(
        "--api-key",
        default=os.environ.get("REALTIME_WIDGET_SERVE_API_KEY"),
        help=(
            "key clients must present (Authorization: Bearer / api-key); "
            "env REALTIME_WIDGET_SERVE_API_KEY"
        ),
    )
    serve.add_argument(
        "--brain-url",
        help="OpenAI-compatible chat-completions base URL (e.g. http://localhost:11434/v1)",
    )
    serve.add_argument("--brain-model", default="llama3.2", help="model name for --brain-url")
    serve.add_argument(
        "--no-speech", action="store_true", help="text only: do not load the offline speech models"
    )
    caps = serve.add_argument_group("per-session caps (0: no cap; docs/limits-and-guarantees.md)")
    for flag, field_name, unit in _CAP_FLAGS:
        caps.add_argument(
            flag,
            dest=field_name,
            type=int,
            metavar=unit,
            default=None,
            help=f"default {_cap_default(field_name)}",
        )
    serve.add_argument(
        "--inference-threads",
        type=int,
        default=None,
        help="threads of the shared inference pool (default 4)",
    )
    serve.add_argument(
        "--inference-per-session",
        type=int,
        default=None,
        help="model calls one session may run at once (default 1; fair scheduling)",
    )
    return parser


# (flag, SessionLimits field, unit shown in --help)
_CAP_FLAGS = (
    ("--max-item-bytes", "max_item_bytes", "BYTES"),
    ("--max-conversation-items", "max_conversation_items", "N"),
    ("--max-conversation-bytes", "max_conversation_bytes", "BYTES"),
    ("--max-input-buffer-ms", "max_input_buffer_ms", "MS"),
    ("--max-reply-tokens", "max_reply_tokens", "N"),
    ("--max-kept-audio-ms", "max_kept_audio_ms", "MS"),
)


def _cap_default(field_name: str) -> str:
    from .engine.limits import SessionLimits

    return str(getattr(SessionLimits(), field_name))


def _limits(args: argparse.Namespace):
    from .engine.limits import SessionLimits

    given = {
        name: getattr(args, name) for _, name, _ in _CAP_FLAGS if getattr(args, name) is not None
    }
    return SessionLimits(**{name: (value or None) for name, value in given.items()})


def _scheduler(args: argparse.Namespace):
    if args.inference_threads is None and args.inference_per_session is None:
        return None
    from .engine.scheduler import DEFAULT_PER_SESSION, DEFAULT_WORKERS, InferenceScheduler

    return InferenceScheduler(
        args.inference_threads or DEFAULT_WORKERS, args.inference_per_session or DEFAULT_PER_SESSION
    )


async def _serve(args: argparse.Namespace) -> None:
    from .engine.server import start_server
    from .engine.speech.stack import SpeechStack

    speech = None
    if not args.no_speech:
        print("loading offline speech models...", file=sys.stderr)
        speech = await asyncio.get_running_loop().run_in_executor(None, SpeechStack.load)
    brain_factory = None
    if args.brain_url:
        from .engine.brain import ChatCompletionsBrain

        brain_factory = lambda: ChatCompletionsBrain(args.brain_url, args.brain_model)  # noqa: E731
    _, port, _ = await start_server(
        args.host,
        args.port,
        api_key=args.api_key,
        speech=speech,
        brain_factory=brain_factory,
        limits=_limits(args),
        scheduler=_scheduler(args),
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"realtime-widget engine listening on ws://{host}:{port}/v1/realtime",
        file=sys.stderr,
        flush=True,
    )
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        try:
            asyncio.run(_serve(args))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
