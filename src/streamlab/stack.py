"""The stack model: what ``setup/stack.toml`` declares, typed and validated.

:func:`load_stack` reads the file with :mod:`tomllib` and returns a :class:`Stack`, or
raises :class:`StackError` listing *every* problem, each naming the dotted key and what was
expected (``stack.toml: functions.audit.timeout: expected an integer 1-900, got "abc"``).
Nothing is deployed from a stack that did not load, so a typo can never leave half a stack
behind. The schema is documented in the header of ``setup/stack.toml``.

Resources refer to each other by logical name (the TOML key); physical names are the
logical name with ``stack.name_prefix`` in front, so one account can hold several copies.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from streamlab._toml_schema import Section, key_path, show
from streamlab.aws_rules import (
    DEFAULT_RUNTIME,
    MAX_FILTERS,
    PYTHON_RUNTIMES,
    RECORD_AGE_RANGE,
    RESERVED_ENVIRONMENT_VARIABLES,
    STREAM_STARTING_POSITIONS,
    FunctionResponseType,
)
from streamlab.aws_rules import (
    STREAM_PARAMETER_RANGES as RANGES,
)
from streamlab.emulator.esm.filtering import InvalidFilterCriteria, validate_filter_criteria
from streamlab.errors import StreamlabError

# --- AWS vocabularies ------------------------------------------------------------------------

KEY_TYPES = ("S", "N", "B")
BILLING_MODES = ("PAY_PER_REQUEST", "PROVISIONED")
STREAM_VIEW_TYPES = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY")
PROJECTIONS = ("ALL", "KEYS_ONLY", "INCLUDE")
STARTING_POSITIONS = tuple(STREAM_STARTING_POSITIONS["dynamodb"])
FUNCTION_RESPONSE_TYPES = tuple(FunctionResponseType)
FILTER_SCOPES = ("MessageAttributes", "MessageBody")
DESTINATION_KINDS = ("queue", "topic", "bucket")

# Physical-name rules of each service: (regex, human description).
_NAME_RULES: dict[str, tuple[str, str]] = {
    "table": (r"[A-Za-z0-9_.-]{3,255}", "3-255 characters from A-Z a-z 0-9 _ . -"),
    "queue": (r"[A-Za-z0-9_-]{1,80}", "1-80 characters from A-Z a-z 0-9 _ -"),
    "topic": (r"[A-Za-z0-9_-]{1,256}", "1-256 characters from A-Z a-z 0-9 _ -"),
    "bucket": (
        r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "3-63 characters from a-z 0-9 . -, starting and ending with a letter or digit",
    ),
    "function": (r"[A-Za-z0-9_-]{1,64}", "1-64 characters from A-Z a-z 0-9 _ -"),
    "role": (r"[\w+=,.@-]{1,64}", "1-64 characters from A-Z a-z 0-9 _ + = , . @ -"),
}
_ATTRIBUTE_NAME = r".{1,255}"
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_ENV_NAME = r"[A-Za-z][A-Za-z0-9_]*"
#: ``${tables.Orders}``: a reference to a resource's physical name in an environment value.
_REFERENCE = re.compile(r"\$\{([A-Za-z_]+)\.([^}]+)\}")

DEFAULT_ROLE_NAME = "streamlab-lambda-execution"


class StackError(StreamlabError, ValueError):
    """``stack.toml`` is not a valid stack; :attr:`problems` holds one line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = [f"{source}: {p}" for p in problems]
        super().__init__("\n".join(self.problems))


# --- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyAttribute:
    """A key attribute: ``AttributeName`` and ``AttributeType`` (S, N or B)."""

    name: str
    type: str


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index (``GlobalSecondaryIndexes`` entry)."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: str = "ALL"
    non_key_attributes: tuple[str, ...] = ()
    read_capacity: int | None = None
    write_capacity: int | None = None


@dataclass(frozen=True)
class Table:
    """A DynamoDB table; ``stream_view_type`` None means no stream."""

    name: str
    physical_name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    billing_mode: str = "PAY_PER_REQUEST"
    read_capacity: int | None = None
    write_capacity: int | None = None
    stream_view_type: str | None = None
    ttl_attribute: str | None = None
    indexes: tuple[GlobalIndex, ...] = ()


@dataclass(frozen=True)
class Queue:
    """A standard SQS queue. Attributes left None are not managed (the service keeps its value)."""

    name: str
    physical_name: str
    visibility_timeout: int | None = None
    message_retention_period: int | None = None
    delay_seconds: int | None = None
    receive_message_wait_time_seconds: int | None = None
    maximum_message_size: int | None = None
    dead_letter_queue: str | None = None
    max_receive_count: int | None = None


@dataclass(frozen=True)
class Subscription:
    """An SNS subscription of a declared queue (protocol ``sqs``)."""

    queue: str
    raw_message_delivery: bool = False
    filter_policy: Mapping[str, Any] | None = None
    filter_policy_scope: str | None = None


@dataclass(frozen=True)
class Topic:
    name: str
    physical_name: str
    subscriptions: tuple[Subscription, ...] = ()


@dataclass(frozen=True)
class Bucket:
    """An S3 bucket; ``versioning`` None leaves versioning as it is."""

    name: str
    physical_name: str
    versioning: bool | None = None


@dataclass(frozen=True)
class Function:
    """A Python Lambda function whose code comes from ``handlers/``."""

    name: str
    physical_name: str
    handler: str
    runtime: str = DEFAULT_RUNTIME
    timeout: int = 3
    memory_size: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    include: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    description: str = ""

    @property
    def python_version(self) -> str:
        """``python3.12`` -> ``3.12`` (what pip's ``--python-version`` wants)."""
        return self.runtime.removeprefix("python")

    @property
    def modules(self) -> tuple[str, ...]:
        """Top-level modules or packages of ``handlers/`` that go into the zip, handler's first."""
        top = self.handler.split(".")[0]
        return (top, *[m for m in self.include if m != top])


@dataclass(frozen=True)
class Destination:
    """An on-failure destination by logical name, written ``queue:<name>`` (or topic:, bucket:)."""

    kind: Literal["queue", "topic", "bucket"]
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class EventSourceMapping:
    """A DynamoDB stream -> function mapping; defaults are AWS's, so every parameter is managed."""

    function: str
    source: str
    starting_position: str
    enabled: bool = True
    batch_size: int = 100
    maximum_batching_window_in_seconds: int = 0
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: int = -1
    parallelization_factor: int = 1
    tumbling_window_in_seconds: int = 0
    function_response_types: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()  # each a canonical JSON pattern
    on_failure: Destination | None = None

    @property
    def label(self) -> str:
        return f"{self.source}->{self.function}"


@dataclass(frozen=True)
class Stack:
    """A loaded, validated stack. ``path`` is the TOML file; ``handlers_dir`` is absolute."""

    path: Path
    handlers_dir: Path
    name_prefix: str = ""
    role_name: str = DEFAULT_ROLE_NAME
    tables: Mapping[str, Table] = field(default_factory=dict)
    queues: Mapping[str, Queue] = field(default_factory=dict)
    topics: Mapping[str, Topic] = field(default_factory=dict)
    buckets: Mapping[str, Bucket] = field(default_factory=dict)
    functions: Mapping[str, Function] = field(default_factory=dict)
    mappings: tuple[EventSourceMapping, ...] = ()

    @property
    def cache_dir(self) -> Path:
        """``<project>/.streamlab``: built zips and installed dependencies (gitignored)."""
        return self.handlers_dir.parent / ".streamlab"

    def destination_names(self) -> dict[str, list[str]]:
        return {"queue": list(self.queues), "topic": list(self.topics), "bucket": list(self.buckets)}


# --- loading ---------------------------------------------------------------------------------


def load_stack(path: str | Path) -> Stack:
    """Read and validate a stack file; raises :class:`StackError` (naming every bad key) or OSError."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    return parse_stack(text, path)


def parse_stack(text: str, path: str | Path = "stack.toml") -> Stack:
    """Validate stack TOML ``text``; ``path`` names the file in messages and anchors ``handlers_dir``."""
    path = Path(path).resolve()
    source = path.name
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StackError(source, [f"invalid TOML: {exc}"]) from None
    problems: list[str] = []
    stack = _StackReader(document, path, problems).read()
    if problems:
        raise StackError(source, problems)
    return stack


class _StackReader:
    """Builds a :class:`Stack` from the parsed document, appending problems as it goes."""

    def __init__(self, document: dict[str, Any], path: Path, problems: list[str]) -> None:
        self.root = Section(document, "", problems)
        self.path = path
        self.problems = problems
        self.prefix = ""

    def read(self) -> Stack:
        settings = self.root.table("stack")
        handlers = "../handlers"
        role = DEFAULT_ROLE_NAME
        if settings is not None:
            self.prefix = (
                settings.string(
                    "name_prefix",
                    default="",
                    pattern=r"[a-z0-9-]{0,32}",
                    expect="0-32 characters from a-z 0-9 - (it must suit bucket names too)",
                )
                or ""
            )
            handlers = settings.string("handlers_dir", default=handlers) or handlers
            role = settings.string("role_name", default=role) or role
            settings.finish()
        handlers_dir = (self.path.parent / handlers).resolve()
        role_name = self._physical("role", role, "stack.role_name", prefix=True)

        tables = self._named("tables", self._table)
        queues = self._named("queues", self._queue)
        topics = self._named("topics", self._topic)
        buckets = self._named("buckets", self._bucket)
        functions = self._named("functions", lambda s, n: self._function(s, n, handlers_dir))
        mappings = self._mappings()
        self.root.finish()
        resources = {"tables": tables, "queues": queues, "topics": topics, "buckets": buckets, "functions": functions}
        functions = {name: self._resolve_environment(function, resources) for name, function in functions.items()}

        stack = Stack(
            path=self.path,
            handlers_dir=handlers_dir,
            name_prefix=self.prefix,
            role_name=role_name,
            tables=tables,
            queues=queues,
            topics=topics,
            buckets=buckets,
            functions=functions,
            mappings=mappings,
        )
        _check_references(stack, self.problems)
        return stack

    # -- helpers ----------------------------------------------------------------------------
    def _resolve_environment(self, function: Function, resources: Mapping[str, Mapping[str, Any]]) -> Function:
        """``${tables.Orders}`` in an environment value -> that resource's physical (prefixed) name.

        Handlers learn their tables, buckets and topics from environment variables; with a
        ``name_prefix`` the AWS names differ from the logical ones, so the stack says which
        resource it means and the loader writes the name it will really have.
        """
        resolved: dict[str, str] = {}
        for var, value in function.environment.items():
            where = key_path(key_path(key_path("functions", function.name), "environment"), var)

            def physical(match: re.Match[str], where: str = where) -> str:
                kind, name = match.group(1), match.group(2)
                if kind not in resources:
                    kinds = ", ".join(f"${{{k}.<name>}}" for k in resources)
                    self.problems.append(f"{where}: unknown reference {show(match.group(0))}, expected one of {kinds}")
                    return match.group(0)
                if name not in resources[kind]:
                    self.problems.append(
                        f"{where}: {match.group(0)} names no {kind[:-1]} {show(name)} "
                        f"(defined: {_defined(resources[kind])})"
                    )
                    return match.group(0)
                return str(resources[kind][name].physical_name)

            resolved[var] = _REFERENCE.sub(physical, value)
        if resolved == dict(function.environment):
            return function
        return dataclasses.replace(function, environment=resolved)

    def _physical(self, kind: str, name: str, where: str, prefix: bool = True) -> str:
        physical = (self.prefix if prefix else "") + name
        regex, rule = _NAME_RULES[kind]
        if not re.fullmatch(regex, physical):
            shown = f"{show(physical)} (with name_prefix)" if prefix and self.prefix else show(physical)
            self.problems.append(f"{where}: expected a {kind} name of {rule}, got {shown}")
        return physical

    def _named(self, kind: str, build: Any) -> dict[str, Any]:
        section = self.root.table(kind, expect=f"a table of {kind} keyed by name")
        result: dict[str, Any] = {}
        if section is None:
            return result
        for name, value in section.data.items():
            section.raw(name)
            if not isinstance(value, dict):
                section.problem(name, f"expected a table, got {show(value)}")
                continue
            item = build(Section(value, section.key(name), self.problems), name)
            if item is not None:
                result[name] = item
        return result

    def _key_attribute(self, section: Section, key: str, required: bool) -> KeyAttribute | None:
        expect = '{ name = "<attribute>", type = "S" | "N" | "B" }'
        sub = section.table(key, required=required, expect=expect)
        if sub is None:
            return None
        name = sub.string("name", required=True, pattern=_ATTRIBUTE_NAME, expect="an attribute name")
        type_ = sub.string("type", required=True, choices=KEY_TYPES)
        sub.finish()
        if name is None or type_ is None:
            return None
        return KeyAttribute(name, type_)

    # -- resources --------------------------------------------------------------------------
    def _table(self, s: Section, name: str) -> Table:
        physical = self._physical("table", name, s.path)
        pk = self._key_attribute(s, "partition_key", required=True)
        sk = self._key_attribute(s, "sort_key", required=False)
        billing = s.string("billing_mode", default="PAY_PER_REQUEST", choices=BILLING_MODES)
        provisioned = billing == "PROVISIONED"
        rcu = s.integer("read_capacity", 1, 40000, required=provisioned)
        wcu = s.integer("write_capacity", 1, 40000, required=provisioned)
        if not provisioned:
            for key in ("read_capacity", "write_capacity"):
                if key in s.data:
                    s.problem(key, 'only allowed with billing_mode = "PROVISIONED"')
        stream = s.string("stream_view_type", choices=STREAM_VIEW_TYPES)
        ttl = s.string("ttl_attribute", pattern=_ATTRIBUTE_NAME, expect="an attribute name")
        indexes: list[GlobalIndex] = []
        index_section = s.table("indexes", expect="a table of global secondary indexes keyed by index name")
        if index_section is not None:
            for index_name, value in index_section.data.items():
                index_section.raw(index_name)
                if not isinstance(value, dict):
                    index_section.problem(index_name, f"expected a table, got {show(value)}")
                    continue
                index = self._index(
                    Section(value, index_section.key(index_name), self.problems), index_name, provisioned
                )
                if index is not None:
                    indexes.append(index)
        s.finish()
        keys = [k for k in (pk, sk) if k] + [k for i in indexes for k in (i.partition_key, i.sort_key) if k]
        types: dict[str, str] = {}
        for k in keys:
            if types.setdefault(k.name, k.type) != k.type:
                s.problem(None, f"attribute {show(k.name)} is declared as both {types[k.name]} and {k.type}")
        return Table(
            name,
            physical,
            pk or KeyAttribute("?", "S"),
            sk,
            billing or "PAY_PER_REQUEST",
            rcu,
            wcu,
            stream,
            ttl,
            tuple(indexes),
        )

    def _index(self, s: Section, name: str, provisioned: bool) -> GlobalIndex | None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", name):
            s.problem(None, f"expected an index name of 3-255 characters from A-Z a-z 0-9 _ . -, got {show(name)}")
        pk = self._key_attribute(s, "partition_key", required=True)
        sk = self._key_attribute(s, "sort_key", required=False)
        projection = s.string("projection", default="ALL", choices=PROJECTIONS) or "ALL"
        non_key = s.string_list("non_key_attributes")
        if non_key and projection != "INCLUDE":
            s.problem("non_key_attributes", 'only allowed with projection = "INCLUDE"')
        if projection == "INCLUDE" and not non_key:
            s.problem("non_key_attributes", 'required with projection = "INCLUDE", expected a list of attribute names')
        rcu = s.integer("read_capacity", 1, 40000)
        wcu = s.integer("write_capacity", 1, 40000)
        if not provisioned:
            for key in ("read_capacity", "write_capacity"):
                if key in s.data:
                    s.problem(key, 'only allowed when the table has billing_mode = "PROVISIONED"')
        s.finish()
        if pk is None:
            return None
        return GlobalIndex(name, pk, sk, projection, non_key, rcu, wcu)

    def _queue(self, s: Section, name: str) -> Queue:
        physical = self._physical("queue", name, s.path)
        queue = Queue(
            name,
            physical,
            visibility_timeout=s.integer("visibility_timeout", 0, 43200),
            message_retention_period=s.integer("message_retention_period", 60, 1209600),
            delay_seconds=s.integer("delay_seconds", 0, 900),
            receive_message_wait_time_seconds=s.integer("receive_message_wait_time_seconds", 0, 20),
            maximum_message_size=s.integer("maximum_message_size", 1024, 1048576),
            dead_letter_queue=s.string("dead_letter_queue", expect="the name of a queue declared in [queues]"),
            max_receive_count=s.integer("max_receive_count", 1, 1000),
        )
        if "dead_letter_queue" in s.data and "max_receive_count" not in s.data:
            s.problem("max_receive_count", "required with dead_letter_queue, expected an integer 1-1000")
        if "max_receive_count" in s.data and "dead_letter_queue" not in s.data:
            s.problem("max_receive_count", "only allowed with dead_letter_queue")
        s.finish()
        return queue

    def _topic(self, s: Section, name: str) -> Topic:
        physical = self._physical("topic", name, s.path)
        subscriptions: list[Subscription] = []
        raw = s.read("subscriptions", "a list of tables", lambda v: isinstance(v, list), [])
        for i, item in enumerate(raw):
            where = key_path(s.key("subscriptions"), i)
            if not isinstance(item, dict):
                self.problems.append(f"{where}: expected a table, got {show(item)}")
                continue
            sub = Section(item, where, self.problems)
            queue = sub.string("queue", required=True, expect="the name of a queue declared in [queues]")
            raw_delivery = sub.boolean("raw_message_delivery", default=False)
            policy = sub.read("filter_policy", "a table (an SNS filter policy)", lambda v: isinstance(v, dict))
            scope = sub.string("filter_policy_scope", choices=FILTER_SCOPES)
            if scope is not None and policy is None and "filter_policy" not in item:
                sub.problem("filter_policy_scope", "only allowed with filter_policy")
            sub.finish()
            if queue is not None:
                subscriptions.append(Subscription(queue, bool(raw_delivery), policy, scope))
        s.finish()
        return Topic(name, physical, tuple(subscriptions))

    def _bucket(self, s: Section, name: str) -> Bucket:
        physical = self._physical("bucket", name, s.path)
        versioning = s.boolean("versioning")
        s.finish()
        return Bucket(name, physical, versioning)

    def _function(self, s: Section, name: str, handlers_dir: Path) -> Function:
        physical = self._physical("function", name, s.path)
        handler = s.string(
            "handler",
            required=True,
            pattern=rf"{_IDENTIFIER}(\.{_IDENTIFIER})+",
            expect='"<module>.<function>" naming a module in handlers/ (e.g. "probe.handler")',
        )
        runtime = s.string("runtime", default=DEFAULT_RUNTIME, choices=PYTHON_RUNTIMES) or DEFAULT_RUNTIME
        timeout = s.integer("timeout", 1, 900, default=3)
        memory = s.integer("memory_size", 128, 10240, default=128)
        environment = s.read(
            "environment",
            "a table of string values",
            lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
            {},
        )
        for var in environment:
            if not re.fullmatch(_ENV_NAME, var):
                s.problem("environment", f"expected variable names like [A-Za-z][A-Za-z0-9_]*, got {show(var)}")
            elif var in RESERVED_ENVIRONMENT_VARIABLES:
                s.problem("environment", f"{var} is reserved by Lambda and cannot be set")
        reserved = s.integer("reserved_concurrency", 0)
        include = s.string_list(
            "include",
            expect="a list of module or package names in handlers/",
            item_check=lambda m: re.fullmatch(_IDENTIFIER, m) is not None,
        )
        requirements = s.string_list(
            "requirements",
            expect='a list of pip requirements (e.g. ["requests==2.32.3"])',
            item_check=lambda r: bool(r.strip()) and not r.strip().startswith("-"),
        )
        description = s.string("description", default="") or ""
        s.finish()
        function = Function(
            name,
            physical,
            handler or "",
            runtime,
            timeout or 3,
            memory or 128,
            dict(environment),
            reserved,
            include,
            tuple(r.strip() for r in requirements),
            description,
        )
        module = ".".join((handler or "").split(".")[:-1])
        if handler is not None and _find_module(handlers_dir, module) is None:
            rel = module.replace(".", "/")
            s.problem("handler", f"no module {rel}.py or package {rel}/ in {handlers_dir}")
        for extra in include:
            if _find_module(handlers_dir, extra) is None:
                s.problem("include", f"no module {extra}.py or package {extra}/ in {handlers_dir}")
        return function

    def _mappings(self) -> tuple[EventSourceMapping, ...]:
        raw = self.root.read("mappings", "an array of tables ([[mappings]])", lambda v: isinstance(v, list), [])
        result: list[EventSourceMapping] = []
        for i, item in enumerate(raw):
            where = key_path("mappings", i)
            if not isinstance(item, dict):
                self.problems.append(f"{where}: expected a table, got {show(item)}")
                continue
            mapping = self._mapping(Section(item, where, self.problems))
            if mapping is not None:
                result.append(mapping)
        return tuple(result)

    def _mapping(self, s: Section) -> EventSourceMapping | None:
        function = s.string("function", required=True, expect="the name of a function declared in [functions]")
        source = s.string("source", required=True, expect="the name of a table declared in [tables] (with a stream)")
        enabled = s.boolean("enabled", default=True)
        position = s.string("starting_position", required=True, choices=STARTING_POSITIONS)
        batch_size = s.integer("batch_size", *RANGES["BatchSize"], default=100)
        window = s.integer("maximum_batching_window_in_seconds", *RANGES["MaximumBatchingWindowInSeconds"], default=0)
        bisect = s.boolean("bisect_batch_on_function_error", default=False)
        retries = s.integer("maximum_retry_attempts", *RANGES["MaximumRetryAttempts"], default=-1)
        age = s.integer("maximum_record_age_in_seconds", *RECORD_AGE_RANGE, default=-1, also=(-1,))
        parallel = s.integer("parallelization_factor", *RANGES["ParallelizationFactor"], default=1)
        tumbling = s.integer("tumbling_window_in_seconds", *RANGES["TumblingWindowInSeconds"], default=0)
        response_types = s.string_list(
            "function_response_types",
            expect='a list of "ReportBatchItemFailures"',
            item_check=lambda t: t in FUNCTION_RESPONSE_TYPES,
        )
        filters = self._filters(s)
        on_failure = self._destination(s)
        s.finish()
        if function is None or source is None or position is None:
            return None
        return EventSourceMapping(
            function=function,
            source=source,
            starting_position=position,
            enabled=bool(enabled),
            batch_size=batch_size if batch_size is not None else 100,
            maximum_batching_window_in_seconds=window if window is not None else 0,
            bisect_batch_on_function_error=bool(bisect),
            maximum_retry_attempts=retries if retries is not None else -1,
            maximum_record_age_in_seconds=age if age is not None else -1,
            parallelization_factor=parallel if parallel is not None else 1,
            tumbling_window_in_seconds=tumbling if tumbling is not None else 0,
            function_response_types=tuple(dict.fromkeys(response_types)),
            filters=filters,
            on_failure=on_failure,
        )

    def _filters(self, s: Section) -> tuple[str, ...]:
        expect = f"a list of up to {MAX_FILTERS} filter patterns (tables, or JSON object strings)"
        raw = s.read("filters", expect, lambda v: isinstance(v, list), [])
        if len(raw) > MAX_FILTERS:
            s.problem("filters", f"expected {expect}, got {len(raw)} patterns")
            return ()
        patterns: list[str] = []
        for i, item in enumerate(raw):
            where = key_path(s.key("filters"), i)
            pattern = item
            if isinstance(item, str):
                try:
                    pattern = json.loads(item)
                except ValueError as exc:
                    self.problems.append(f"{where}: expected a JSON object, got {show(item)} ({exc})")
                    continue
            if not isinstance(pattern, dict) or not pattern:
                self.problems.append(f"{where}: expected a non-empty filter pattern table, got {show(item)}")
                continue
            bad = _pattern_leaf_problem(pattern)
            if bad:
                self.problems.append(f"{where}.{bad}")
                continue
            try:  # the check CreateEventSourceMapping makes, so the control plane cannot refuse it later
                validate_filter_criteria({"Filters": [{"Pattern": json.dumps(pattern)}]})
            except InvalidFilterCriteria as exc:
                self.problems.append(f"{where}: {exc.message}" + (f" ({exc.detail})" if exc.detail else ""))
                continue
            patterns.append(json.dumps(pattern, sort_keys=True, separators=(",", ":")))
        return tuple(patterns)

    def _destination(self, s: Section) -> Destination | None:
        expect = '"queue:<name>", "topic:<name>" or "bucket:<name>"'
        value = s.string("on_failure", pattern=r"(queue|topic|bucket):.+", expect=expect)
        if value is None:
            return None
        kind, _, name = value.partition(":")
        return Destination(kind, name)  # type: ignore[arg-type]


def _pattern_leaf_problem(pattern: Mapping[str, Any], path: str = "") -> str | None:
    """EventBridge-style patterns put match values in lists: ``status.S = ["PAID"]``, not ``"PAID"``."""
    for key, value in pattern.items():
        here = key_path(path, key)
        if isinstance(value, dict):
            found = _pattern_leaf_problem(value, here)
            if found:
                return found
        elif not isinstance(value, list):
            return f"{here}: expected a list of match values (e.g. [{show(value)}]), got {show(value)}"
    return None


def _find_module(handlers_dir: Path, module: str) -> Path | None:
    """``handlers/a/b.py`` or ``handlers/a/b/`` for module ``a.b``; None when neither exists."""
    base = handlers_dir.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if base.is_dir():
        return base
    return None


def _defined(names: Any) -> str:
    names = list(names)
    return ", ".join(names) if names else "none"


def _check_references(stack: Stack, problems: list[str]) -> None:
    """Dangling or circular references between resources, found after each resource read cleanly."""
    _check_queue_references(stack, problems)
    _check_mapping_references(stack, problems)


def _check_queue_references(stack: Stack, problems: list[str]) -> None:
    for queue in stack.queues.values():
        if queue.dead_letter_queue is None:
            continue
        where = key_path(key_path("queues", queue.name), "dead_letter_queue")
        if queue.dead_letter_queue not in stack.queues:
            problems.append(
                f"{where}: no queue named {show(queue.dead_letter_queue)} (defined: {_defined(stack.queues)})"
            )
            continue
        chain, seen = [queue.name], {queue.name}
        nxt: str | None = queue.dead_letter_queue
        while nxt is not None and nxt in stack.queues:
            chain.append(nxt)
            if nxt in seen:
                problems.append(f"{where}: redrive cycle {' -> '.join(chain)}")
                break
            seen.add(nxt)
            nxt = stack.queues[nxt].dead_letter_queue

    for topic in stack.topics.values():
        for i, sub in enumerate(topic.subscriptions):
            where = key_path(key_path(key_path("topics", topic.name), "subscriptions"), i) + ".queue"
            if sub.queue not in stack.queues:
                problems.append(f"{where}: no queue named {show(sub.queue)} (defined: {_defined(stack.queues)})")


def _check_mapping_references(stack: Stack, problems: list[str]) -> None:
    seen_pairs: dict[tuple[str, str], int] = {}
    for i, mapping in enumerate(stack.mappings):
        where = key_path("mappings", i)
        if mapping.function not in stack.functions:
            problems.append(
                f"{where}.function: no function named {show(mapping.function)} (defined: {_defined(stack.functions)})"
            )
        table = stack.tables.get(mapping.source)
        if table is None:
            problems.append(
                f"{where}.source: no table named {show(mapping.source)} (defined: {_defined(stack.tables)})"
            )
        elif table.stream_view_type is None:
            problems.append(
                f"{where}.source: table {show(mapping.source)} has no stream "
                f"(set tables.{mapping.source}.stream_view_type)"
            )
        if mapping.on_failure is not None:
            declared = stack.destination_names()[mapping.on_failure.kind]
            if mapping.on_failure.name not in declared:
                problems.append(
                    f"{where}.on_failure: no {mapping.on_failure.kind} named {show(mapping.on_failure.name)} "
                    f"(defined: {_defined(declared)})"
                )
        pair = (mapping.function, mapping.source)
        if pair in seen_pairs:
            problems.append(
                f"{where}: same function {show(pair[0])} and source {show(pair[1])} as "
                f"mappings[{seen_pairs[pair]}] (Lambda allows one mapping per stream and function)"
            )
        seen_pairs.setdefault(pair, i)
