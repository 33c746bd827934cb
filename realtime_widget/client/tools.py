"""Python callables as realtime function tools.

:func:`tool_from_callable` builds the function tool a session advertises: the name is
the function's, the description its docstring's summary, and the JSON schema of the
parameters comes from the signature and type hints (through pydantic), with each
parameter's description taken from the docstring (Google ``Args:``, NumPy
``Parameters`` or Sphinx ``:param x:`` style). :meth:`Tool.call` validates the model's
JSON arguments against the same schema, runs the function, and always returns a string
for ``function_call_output``: the return value (a ``str`` as is, anything else as
JSON), or ``{"error": "<Type>: <message>"}`` when the arguments are invalid or the
function raises.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic

__all__ = ["Tool", "parse_docstring", "tool_from_callable"]

_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Returns|Return|Raises|Yields|Examples?|Notes?"
    r"|See Also)\s*:?\s*$",
    re.IGNORECASE,
)
_SPHINX_PARAM = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_GOOGLE_PARAM = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_PARAM = re.compile(r"^\s*(\w+)\s*(?::\s*.*)?$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) from a docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    i = 0
    while (
        i < len(lines)
        and lines[i].strip()
        and not _SECTION.match(lines[i])
        and not _SPHINX_PARAM.match(lines[i])
    ):
        summary.append(lines[i].strip())
        i += 1
    section = None
    current: str | None = None
    numpy_style = False
    for j in range(i, len(lines)):
        line = lines[j]
        m = _SPHINX_PARAM.match(line)
        if m:
            current = m.group(1)
            params[current] = m.group(2).strip()
            section = "sphinx"
            continue
        head = _SECTION.match(line)
        if head:
            section = head.group(1).lower()
            current = None
            numpy_style = j + 1 < len(lines) and set(lines[j + 1].strip()) == {"-"}
            continue
        if set(line.strip()) == {"-"}:
            continue
        if section in ("args", "arguments", "parameters", "params"):
            if not line.strip():
                current = None
                continue
            indent = len(line) - len(line.lstrip())
            if numpy_style:
                if indent == 0:
                    m = _NUMPY_PARAM.match(line)
                    current = m.group(1) if m else None
                    if current:
                        params[current] = ""
                elif current:
                    params[current] = (params[current] + " " + line.strip()).strip()
            else:
                m = _GOOGLE_PARAM.match(line)
                if m and (current is None or indent <= _indent_of_params(lines, j)):
                    current = m.group(1)
                    params[current] = m.group(2).strip()
                elif current:
                    params[current] = (params[current] + " " + line.strip()).strip()
        elif section == "sphinx" and current and line.startswith((" ", "\t")) and line.strip():
            params[current] = (params[current] + " " + line.strip()).strip()
    return " ".join(summary), params


def _indent_of_params(lines: list[str], j: int) -> int:
    """Indentation of the first parameter line of the section containing line ``j``."""
    k = j
    while k > 0 and not _SECTION.match(lines[k - 1]):
        k -= 1
    first = lines[k] if k < len(lines) else ""
    return len(first) - len(first.lstrip())


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)
        }
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    model: type[pydantic.BaseModel]
    arg_names: list[str] = field(default_factory=list)
    var_kwargs: bool = False

    def definition(self) -> dict[str, Any]:
        """The realtime (preview) function tool."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }

    def _arguments(self, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        if isinstance(arguments, str):
            data = json.loads(arguments) if arguments.strip() else {}
        else:
            data = dict(arguments or {})
        if not isinstance(data, dict):
            raise TypeError("the arguments must be a JSON object")
        validated = self.model.model_validate(data)
        kwargs = {name: getattr(validated, name) for name in self.arg_names}
        if self.var_kwargs and validated.model_extra:
            kwargs.update(validated.model_extra)
        return kwargs

    async def call(self, arguments: str | dict[str, Any] | None, *, executor: Any = None) -> str:
        """Run the tool; the string to send as ``function_call_output``. Never raises
        (except cancellation)."""
        try:
            kwargs = self._arguments(arguments)
            if inspect.iscoroutinefunction(self.fn):
                result = await self.fn(**kwargs)
            else:
                result = await asyncio.get_running_loop().run_in_executor(
                    executor, lambda: self.fn(**kwargs)
                )
                if inspect.isawaitable(result):
                    result = await result
        except asyncio.CancelledError:
            raise
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            return json.dumps({"error": f"invalid arguments: {problems}"})
        except BaseException as exc:  # the model hears about any failure of the tool
            return json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        return to_output(result)


def to_output(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, pydantic.BaseModel):
        return result.model_dump_json()
    try:
        return json.dumps(result, default=_fallback)
    except (TypeError, ValueError):
        return json.dumps(str(result))


def _fallback(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    return str(obj)


def tool_from_callable(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> Tool:
    """The :class:`Tool` for ``fn`` (see the module docstring)."""
    if not callable(fn):
        raise TypeError(f"a tool must be callable, got {type(fn).__name__}")
    tool_name = name or getattr(fn, "__name__", None) or type(fn).__name__
    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", tool_name):
        raise ValueError(f"tool name {tool_name!r}: use 1-64 letters, digits, _ or -")
    summary, param_docs = parse_docstring(inspect.getdoc(fn))
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:
        hints = getattr(fn, "__annotations__", {}) or {}
    sig = inspect.signature(fn)
    fields: dict[str, Any] = {}
    names: list[str] = []
    var_kwargs = False
    for pname, param in sig.parameters.items():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_kwargs = True
            continue
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(
                f"tool {tool_name}: positional-only parameter {pname!r} cannot be called by name"
            )
        annotation = hints.get(pname, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (
            annotation,
            pydantic.Field(default, description=param_docs.get(pname) or None),
        )
        names.append(pname)
    config = pydantic.ConfigDict(
        arbitrary_types_allowed=False, extra="allow" if var_kwargs else "forbid"
    )
    model = pydantic.create_model(f"{tool_name}_arguments", __config__=config, **fields)
    schema = _strip_titles(model.model_json_schema())
    schema.setdefault("properties", {})
    schema["type"] = "object"
    if not var_kwargs:
        schema["additionalProperties"] = False
    return Tool(
        name=tool_name,
        description=description if description is not None else summary,
        parameters=schema,
        fn=fn,
        model=model,
        arg_names=names,
        var_kwargs=var_kwargs,
    )
