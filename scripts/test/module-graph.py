#!/usr/bin/env python3
"""Lists the `crate::` edges between core's top-level modules and fails on a cycle.

Dependencies in core point one way (credential -> cache -> token, never back): a reader of a
low-level module must not need the façade to understand it. Every `crate::name` path in a file
(in `use` items or inline) is an edge from the file's top-level module to `name`. Test modules
(`#[cfg(test)]` to the end of the file) are left out: tests may reach anywhere.

    scripts/test/module-graph.py            # check, print cycles if any
    scripts/test/module-graph.py --edges    # also print every edge
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2] / "core" / "src"


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT)
    top = rel.parts[0]
    return "lib" if top == "lib.rs" else top.removesuffix(".rs")


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.rs")):
        source = path.read_text(encoding="utf-8")
        cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod tests", source, re.M)
        if cut:
            source = source[: cut.start()]
        source = re.sub(r"//[^\n]*", "", source)
        src = module_of(path)
        targets = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", source))
        # `use crate::{a, b::c}` groups.
        for group in re.findall(r"\bcrate::\{([^}]*)\}", source):
            targets.update(re.findall(r"(?:^|,)\s*([a-z_][a-z0-9_]*)", group))
        graph.setdefault(src, set()).update(t for t in targets if t != src)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    graph = edges()
    graph.pop("lib", None)  # the crate root declares and re-exports every module
    if "--edges" in sys.argv:
        for src in sorted(graph):
            print(f"{src} -> {', '.join(sorted(graph[src])) or '(nothing)'}")
    bad = cycles(graph)
    for component in bad:
        members = set(component)
        inside = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in members]
        print(f"cycle among {', '.join(component)}: {'; '.join(inside)}", file=sys.stderr)
    if bad:
        print("core/src has module cycles: make the dependencies point one way", file=sys.stderr)
        return 1
    print(f"core/src: {len(graph)} modules, {sum(map(len, graph.values()))} edges, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
