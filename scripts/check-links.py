#!/usr/bin/env python3
"""Every relative markdown link `](path)` / `](path#anchor)` / `](#anchor)` resolves."""
import pathlib, re, sys, unicodedata
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve()
def slug(h):
    h = re.sub(r'<[^>]+>', '', h).strip().lower()
    h = ''.join(c for c in h if c.isalnum() or c in ' -_' )
    return h.replace(' ', '-')
def anchors(path):
    text = path.read_text(encoding='utf-8')
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    seen = {}; out = set()
    for m in re.finditer(r'^#{1,6}\s+(.*?)\s*#*\s*$', text, re.M):
        s = slug(m.group(1)); n = seen.get(s, 0); seen[s] = n + 1
        out.add(s if n == 0 else f'{s}-{n}')
    out.update(re.findall(r'<a id="([^"]+)"', text))
    return out
bad = 0; count = 0
files = [p for p in root.rglob('*.md') if not any(x in p.parts for x in ('target', 'node_modules', '.git', 'dist'))]
for f in sorted(files):
    text = f.read_text(encoding='utf-8')
    text_nc = re.sub(r'```.*?```', '', text, flags=re.S)
    text_nc = re.sub(r'`[^`\n]*`', '', text_nc)
    for m in re.finditer(r'\]\(([^)\s]+)\)', text_nc):
        target = m.group(1)
        if re.match(r'^[a-z]+:', target): continue
        count += 1
        path, _, anchor = target.partition('#')
        dest = (f.parent / path).resolve() if path else f
        if not dest.exists():
            print(f'{f.relative_to(root)}: missing {target}'); bad += 1; continue
        if anchor and dest.is_file() and dest.suffix == '.md' and anchor not in anchors(dest):
            print(f'{f.relative_to(root)}: no anchor #{anchor} in {dest.relative_to(root)}'); bad += 1
print(f'{count} relative links checked, {bad} broken')
sys.exit(1 if bad else 0)
