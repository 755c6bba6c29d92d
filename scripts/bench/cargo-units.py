#!/usr/bin/env python3
"""Which crates a sequence of cargo calls compiles, and which of them a later call compiles again.

    scripts/bench/cargo-units.py [-v] LABEL=GRAPH.json...

Each GRAPH.json is what one cargo call would compile, from the nightly's unit graph, made with the
call's own arguments and without compiling anything, e.g.

    cargo +nightly -Z unstable-options test --no-run --unit-graph --workspace --features X >a.json
    (cd py && cargo +nightly -Z unstable-options rustc --unit-graph -p certless-py --lib \
        --features pyo3/extension-module) >b.json       # what maturin runs

Given in the order the calls run (as in one target directory), it prints per call how many units
it has and how many no earlier call had; -v lists the new ones. A unit is the same when its
package, target, mode, features, profile and platform are, and so are its dependencies', which is
what cargo's -C metadata hash covers. What the graph does not show also forces rebuilds and must be
read from the scripts: RUSTFLAGS, the linker (cargo-zigbuild's wrappers), RUSTC_WORKSPACE_WRAPPER,
a different CARGO_TARGET_DIR.
"""
import hashlib
import json
import sys


def units(path):
    graph = json.load(open(path))["units"]
    memo = {}

    def key(i):
        if i not in memo:
            u = graph[i]
            profile = dict(u["profile"])
            profile.pop("name", None)
            own = json.dumps([u["pkg_id"], u["target"]["kind"], u["target"]["name"], u["mode"],
                              sorted(u["features"]), profile, u.get("platform")], sort_keys=True)
            deps = sorted(key(d["index"]) for d in u["dependencies"])
            memo[i] = hashlib.sha1("|".join([own] + deps).encode()).hexdigest()
        return memo[i]

    out = {}
    for i, u in enumerate(graph):
        name = u["pkg_id"].split("#")[-1]
        out[key(i)] = f'{name} {u["target"]["name"]} {u["mode"]} {u.get("platform") or "host"} [{",".join(u["features"])}]'
    return out


def main(args):
    verbose = "-v" in args
    seen, total = {}, 0
    for arg in (a for a in args if a != "-v"):
        label, path = arg.split("=", 1)
        these = units(path)
        new = {k: v for k, v in these.items() if k not in seen}
        total += len(new)
        print(f"{label}: {len(these)} units, {len(new)} new")
        if verbose:
            for line in sorted(new.values()):
                print("    " + line)
        seen.update(these)
    print(f"all: {total} units compiled")


if __name__ == "__main__":
    main(sys.argv[1:])
