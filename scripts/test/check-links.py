#!/usr/bin/env python3
"""Checks that every relative link in the repository's markdown files resolves.

For each `*.md` file (outside target/, dist/, node_modules/ and .git/), every `](path)`,
`](path#anchor)` and `](#anchor)` must name a file or directory that exists, and an anchor must
be a heading of the target file (GitHub's slug: lower case, punctuation dropped, spaces as
hyphens, `-1`, `-2`, ... for repeats) or an explicit `<a id="...">`. Links inside code fences
and code spans are not links; `http:`, `https:` and `mailto:` links are not checked.

    scripts/test/check-links.py [ROOT]     # exit 1 and one line per broken link
"""
import pathlib
import re
import sys

SKIP = {"target", "dist", "node_modules", ".git"}


def without_code(text: str) -> str:
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    heading = re.sub(r"<[^>]+>", "", heading).strip().lower()
    heading = "".join(c for c in heading if c.isalnum() or c in " -_")
    return heading.replace(" ", "-")


def anchors(path: pathlib.Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    seen: dict[str, int] = {}
    found = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M):
        s = slug(heading)
        n = seen.get(s, 0)
        seen[s] = n + 1
        found.add(s if n == 0 else f"{s}-{n}")
    return found


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    files = sorted(p for p in root.rglob("*.md") if not SKIP & set(p.relative_to(root).parts))
    checked = broken = 0
    for f in files:
        for target in re.findall(r"\]\(([^)\s]+)\)", without_code(f.read_text(encoding="utf-8"))):
            if re.match(r"^[a-z]+:", target):
                continue
            checked += 1
            path, _, anchor = target.partition("#")
            dest = (f.parent / path).resolve() if path else f
            where = f.relative_to(root)
            if not dest.exists():
                print(f"{where}: {target}: no such file")
                broken += 1
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                print(f"{where}: {target}: no such heading in {dest.relative_to(root)}")
                broken += 1
    print(f"{checked} relative links in {len(files)} markdown files, {broken} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
