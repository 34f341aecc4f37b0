"""The comments written next to a class's attributes, read from its source.

Settings models and context-key value types document their fields with ``#`` comments
(the line above, or the end of the line); the generated reference and ``plugins --settings``
show them, so what the author wrote once is what every reader sees.
"""

from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize


def attribute_comments(cls: type) -> dict[str, str]:
    """``{attribute: comment}`` for the annotated attributes of ``cls`` that carry a comment
    (empty when the source is unavailable, e.g. a class built at run time)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments: dict[int, str] = {}  # line number (1-based) -> comment text
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        return {}
    found: dict[str, str] = {}
    (node,) = ast.parse(source).body[:1]
    for statement in getattr(node, "body", []):
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        above: list[str] = []
        line = statement.lineno - 1
        while line >= 1 and lines[line - 1].strip().startswith("#"):
            above.insert(0, comments.get(line, ""))
            line -= 1
        trailing = [
            comments[n]
            for n in range(statement.lineno, (statement.end_lineno or statement.lineno) + 1)
            if n in comments
        ]
        text = " ".join(part for part in [*above, *trailing] if part)
        if text:
            found[statement.target.id] = text
    return found
