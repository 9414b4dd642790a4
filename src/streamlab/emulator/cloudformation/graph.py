"""The order resources are created in: what each refers to (Ref, Fn::GetAtt, Fn::Sub) and DependsOn."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.exceptions import TemplateError
from streamlab.emulator.cloudformation.intrinsics import references


def dependencies(resources: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    names = set(resources)
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        unknown = [name for name in depends_on if name not in names]
        if unknown:
            raise TemplateError(
                f"Template format error: Unresolved resource dependencies [{', '.join(unknown)}] in the Resources "
                "block of the template"
            )
        found = references(resource.get("Properties") or {}, names) | set(depends_on)
        graph[logical_id] = found
    return graph


def creation_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Resources sorted so each comes after what it depends on; a cycle is a ValidationError."""
    graph = dependencies(resources)
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name) :]
            raise TemplateError(f"Circular dependency between resources: [{', '.join(sorted(cycle))}]")
        state[name] = 1
        for dependency in sorted(graph[name]):
            visit(dependency, [*path, name])
        state[name] = 2
        order.append(name)

    for name in resources:
        visit(name, [])
    return order
