"""Readers written out as Python source and compiled, their source kept for reading.

Both record families read JSON with code generated from their declarations: the
Defender for Endpoint alert from its field table (:mod:`.records.table`), each Graph
record from its frozen dataclass (:mod:`.graph_schema`). A sync reads tens of
thousands of objects, and a loop that interprets a list of fields spends more on the
interpreting than on the reading; straight-line code, one statement per field, does not
(as :mod:`dataclasses` writes ``__init__``). This module is the one place such source
becomes a function.

The source is made only from declarations in this package (attribute names, JSON names
as literals, objects passed in ``namespace``), never from data Microsoft sends; the
names it defines are checked to be identifiers before anything is compiled. Each
function keeps its source on ``__source__``, so a reader can be read (and tested) like
the code it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["compile_function", "source_of"]


def compile_function(
    source: str,
    name: str,
    namespace: dict[str, Any],
    *,
    origin: str,
    identifiers: Iterable[str] = (),
) -> Callable[..., Any]:
    """Compile ``source``, which defines the function ``name`` using the globals in
    ``namespace``, and return that function with its source on ``__source__``.

    ``origin`` names what the source was made from (``"quick reading of AlertRecord"``)
    and appears in tracebacks. ``identifiers`` are the other names the source was built
    from (attributes it sets); each must be a Python identifier, like ``name``.
    """
    for identifier in (name, *identifiers):
        if not identifier.isidentifier():
            raise ValueError(f"{identifier!r} cannot name a function or an attribute")
    code = compile(source, f"<{origin}>", "exec")
    exec(code, namespace)  # noqa: S102  (source made from declarations, never from data)
    function = namespace[name]
    function.__source__ = source
    return function  # type: ignore[no-any-return]


def source_of(function: Callable[..., Any]) -> str:
    """The source a function of :func:`compile_function` was compiled from."""
    source = getattr(function, "__source__", None)
    if not isinstance(source, str):
        raise TypeError(f"{function!r} was not compiled from generated source")
    return source
