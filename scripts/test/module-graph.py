#!/usr/bin/env python3
"""Fails when the modules of a crate depend on each other in a circle, at any level.

Dependencies point one way (credential -> cache -> token, never back): a reader of a low-level
module must not need the modules above it to understand it. A circle also hides inside a folder
(a folder's mod.rs that names every source while each source imports a trait from the same
folder), so the check sees every module file, submodules included, and then each level of folders:
`managed_identity::imds -> managed_identity::source` at the file level, `managed_identity -> http`
at the top level.

An edge is a path in a file's code (in `use` items or inline) that reaches another module:
`crate::a::b::Item`, `super::x`, `self::x`, or a child module the file declares. Names that a module
only re-exports (`pub use x::Name;`) are followed to the module that defines them, and re-exports
are no edge of their own: a folder's face is not a dependency. Test code is left out (a
`#[cfg(test)] mod tests` to the end of a file, and `tests` module files): tests may reach anywhere.

    scripts/test/module-graph.py                 # core and the broker crate: check, print circles
    scripts/test/module-graph.py --edges         # also print every edge
    scripts/test/module-graph.py path/to/src ... # other crates
"""
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_CRATES = ["core/src", "broker/src"]

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH = re.compile(rf"\b((?:crate|super|self)(?:::{IDENT})+)")
USE = re.compile(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S)
MOD_DECL = re.compile(rf"^\s*(#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+({IDENT})\s*;", re.M)


def code_of(text: str) -> str:
    """The file's non-test code with comments and string literals removed."""
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod tests", text, re.M)
    if cut:
        text = text[: cut.start()]
    # One pass, left to right, so that a quote inside a comment or a `//` inside a string is
    # taken for what it is.
    token = re.compile(
        r"""//[^\n]*|/\*(?:.|\n)*?\*/|\br(#*)"(?:.|\n)*?"\1|b?"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])'""",
        re.S,
    )
    return token.sub(lambda m: '""' if m.group(0)[0] in "rb\"'" else "", text)


def expand_use_tree(tree: str) -> list[str]:
    """`a::{b, c::{d, e as f}}` -> ["a::b", "a::c::d", "a::c::e@f"]: the paths a use item names,
    an alias after `@`."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+", "@", tree))

    def split_top(body: str) -> list[str]:
        parts, depth, start = [], 0, 0
        for i, ch in enumerate(body):
            depth += ch == "{"
            depth -= ch == "}"
            if ch == "," and depth == 0:
                parts.append(body[start:i])
                start = i + 1
        parts.append(body[start:])
        return [p for p in parts if p]

    def walk(prefix: str, item: str) -> list[str]:
        brace = item.find("{")
        if brace < 0:
            return [prefix + item]
        head, body = item[:brace], item[brace + 1 : item.rindex("}")]
        return [p for part in split_top(body) for p in walk(prefix + head, part)]

    return walk("", tree)


class Crate:
    def __init__(self, src: pathlib.Path):
        self.src = src
        self.files: dict[str, pathlib.Path] = {}
        for path in sorted(src.rglob("*.rs")):
            rel = path.relative_to(src).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] in ("mod", "lib", "main"):
                parts.pop()
            if "tests" in parts or "bin" in parts:
                continue
            self.files["::".join(parts)] = path
        self.code = {m: code_of(p.read_text(encoding="utf-8")) for m, p in self.files.items()}
        self.children = {m: set(n for _, n in MOD_DECL.findall(c)) for m, c in self.code.items()}
        # Re-exports: module -> {name: full path it names}.
        self.reexports: dict[str, dict[str, str]] = {}
        for module, code in self.code.items():
            names: dict[str, str] = {}
            for vis, tree in USE.findall(code):
                if not vis:
                    continue
                for path in expand_use_tree(tree):
                    path, _, alias = path.partition("@")
                    name = alias or path.rsplit("::", 1)[-1]
                    names[name] = self.absolute(module, path)
            self.reexports[module] = names

    def join(self, *parts: str) -> str:
        return "::".join(p for p in parts if p)

    def absolute(self, module: str, path: str) -> str:
        """A path as written in `module`, from the crate root (no resolution of re-exports)."""
        segs = path.split("::")
        base = module.split("::") if module else []
        if segs[0] == "crate":
            base, segs = [], segs[1:]
        elif segs[0] == "self":
            segs = segs[1:]
        elif segs[0] == "super":
            # A file's module is its own path; `super` is its parent.
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
        elif segs[0] in self.children.get(module, ()):
            pass
        else:
            return ""  # an outside crate or a prelude name
        return "::".join(base + segs)

    def resolve(self, path: str, depth: int = 0) -> str:
        """The module file a crate-rooted path lands in, following re-exports."""
        segs = path.split("::") if path else []
        module = ""
        for i, seg in enumerate(segs):
            child = self.join(module, seg)
            if child in self.files:
                module = child
                continue
            target = self.reexports.get(module, {}).get(seg)
            if target and depth < 16 and target != path:
                rest = "::".join(segs[i + 1 :])
                return self.resolve(self.join(target, rest), depth + 1)
            break
        return module

    def edges(self) -> dict[str, set[str]]:
        graph: dict[str, set[str]] = {m: set() for m in self.files}
        for module, code in self.code.items():
            # Re-exports are the folder's face, not a dependency: drop them before looking.
            body = USE.sub(lambda m: "" if m.group(1) else m.group(0), code)
            paths = []
            for tree in re.findall(r"\buse\s+([^;]+);", body, re.S):
                paths += expand_use_tree(tree)
            body = re.sub(r"\buse\s+[^;]+;", "", body, flags=re.S)
            paths += PATH.findall(body)
            for child in self.children[module]:
                paths += re.findall(rf"(?<![:\w]){child}(?:::{IDENT})+", body)
            for path in paths:
                absolute = self.absolute(module, path.partition("@")[0].removesuffix("::*"))
                target = self.resolve(absolute) if absolute else None
                if target is not None and target != module and target in self.files:
                    graph[module].add(target)
        return graph


def collapse(graph: dict[str, set[str]], depth: int) -> dict[str, set[str]]:
    def top(m: str) -> str:
        return "::".join(m.split("::")[:depth]) if m else "(root)"

    out: dict[str, set[str]] = {}
    for src, targets in graph.items():
        out.setdefault(top(src), set()).update(top(t) for t in targets if top(t) != top(src))
    return out


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

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = "--edges" in sys.argv
    crates = [REPO / a for a in (args or DEFAULT_CRATES)]
    failed = False
    for src in crates:
        if not src.is_dir():
            if args:
                print(f"{src}: no such folder", file=sys.stderr)
                return 2
            continue
        crate = Crate(src)
        graph = crate.edges()
        name = src.relative_to(REPO) if src.is_relative_to(REPO) else src
        if show:
            for module in sorted(graph):
                for target in sorted(graph[module]):
                    print(f"{name}: {module or '(root)'} -> {target or '(root)'}")
        deepest = max((m.count("::") + 1 for m in graph if m), default=1)
        levels = [("module", graph)] + [(f"level {d}", collapse(graph, d)) for d in range(1, deepest)]
        count = sum(len(t) for t in graph.values())
        for level, g in levels:
            for component in cycles(g):
                failed = True
                print(f"{name}: a circle between modules ({level}): {' <-> '.join(component)}")
                for a in component:
                    for b in sorted(g.get(a, ())):
                        if b in component:
                            print(f"    {a} -> {b}")
        print(f"{name}: {len(graph)} modules, {count} edges, {len(levels)} levels checked")
    if failed:
        print("Dependencies must point one way: move what both sides need into a module below both.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
