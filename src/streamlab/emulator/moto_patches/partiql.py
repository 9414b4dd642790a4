"""PartiQL UPDATE statements with number literals, as DynamoDB runs them.

moto runs ExecuteStatement / BatchExecuteStatement through ``py_partiql_parser``, whose UPDATE
parser only accepts quoted values (``SET v = 'x'``) or parameters (``SET v = ?``): a number
literal (``SET Age = 20``, ``WHERE id = 1``) fails an assertion, the gateway answers
InternalFailure, and the table and its stream see nothing. DynamoDB's PartiQL takes number
literals as numbers: LocalStack's AWS-validated ``test_dynamodb_batch_execute_statement``
(2025-10-08) runs ``UPDATE t SET Age=20 WHERE Username='user02'`` and reads back ``{"N": "20"}``,
and ``test_dynamodb_stream_records_with_update_item`` gets a MODIFY record from
``UPDATE t SET partiql=1 WHERE Username='Alice'``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from py_partiql_parser._internal.update_parser import UpdateParser

from streamlab.emulator.moto_patches.patching import Patcher

_NUMBER_MARK = "\x00streamlab-number:"
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def quote_number_literals(statement: str) -> str:
    """``SET a = 20`` -> ``SET a = '<mark>20'``: number literals after ``=``, outside quotes, marked."""
    out: list[str] = []
    index, length = 0, len(statement)
    quote: str | None = None
    while index < length:
        char = statement[index]
        out.append(char)
        index += 1
        if quote is not None:
            if char == quote:
                quote = None
            continue
        if char in ("'", '"'):
            quote = char
        elif char == "=":
            while index < length and statement[index] == " ":
                out.append(" ")
                index += 1
            number = _NUMBER.match(statement, index)
            end = number.end() if number else index
            if number and (end == length or statement[end] in " ,)"):
                out.append(f"'{_NUMBER_MARK}{number.group()}'")
                index = end
    return "".join(out)


def _unmark(value: Any) -> Any:
    text = value.get("S") if isinstance(value, dict) else None
    if isinstance(text, str) and text.startswith(_NUMBER_MARK):
        return {"N": text[len(_NUMBER_MARK) :]}
    return value


def accept_number_literals_in_updates(patcher: Patcher) -> None:
    """PartiQL ``UPDATE ... SET a = 20 WHERE k = 1`` works and sets a number (moto: InternalFailure).

    The statement's number literals are quoted with a mark before py_partiql_parser's UPDATE parser
    reads it, and the values it returns for them are turned back into numbers (``{"N": "20"}``).
    """
    original = UpdateParser.parse

    @functools.wraps(original)
    def parse(self: UpdateParser, query: str) -> Any:
        table_name, updates, filters = original(self, quote_number_literals(query))
        return (
            table_name,
            [(name, _unmark(value)) for name, value in updates],
            [(name, _unmark(value)) for name, value in filters],
        )

    patcher.replace(UpdateParser, "parse", parse)
