#!/usr/bin/env python3
"""Prints the part of Mono's thread dumps (SIGQUIT, sent by drive.py when a request hangs) in a host log that
can explain a hung request: the threads with a frame of certless, remoting, ASP.NET's runtime, the host's
request handling or its socket front end. Threads with the same stack are printed once, with their count.

    thread_dumps.py HOST_LOG
"""

import re
import sys

# Frames of the code a request passes through, from the listener to certless's native completion.
RELEVANT = re.compile(r"Certless|certless|Remoting|HttpRuntime|WorkerRequest|AspNetHost|Socket|"
                      r"AppDomain|CrmBridge|System\.Web\.Http")


def dumps(lines):
    """Each dump as (the log line before it, its threads: (header, [frames]))."""
    found, threads, before = [], None, ""
    for line in lines:
        if line.startswith("Full thread dump:"):
            threads = []
            found.append((before, threads))
        elif threads is not None and line.startswith('"'):
            threads.append((line, []))
        elif threads is not None and line.startswith("  at ") and threads:
            threads[-1][1].append(line)
        elif threads is not None and line.strip() and not line.startswith("  "):
            threads = None  # the host's own output again: this dump ended
            before = line
        elif threads is None and line.strip():
            before = line
    return found


def main():
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    found = dumps(lines)
    if not found:
        print("no thread dump in the host's log")
        return 0
    for number, (before, threads) in enumerate(found, 1):
        print(f"--- thread dump {number} of {len(found)} ({len(threads)} threads; the log line before it: {before})")
        stacks = {}
        for header, frames in threads:
            first = header.split("  at ")[0]  # Mono prints the first frame on the header line
            stack = "\n".join([header[len(first):].strip()] + frames)
            if RELEVANT.search(stack):
                stacks.setdefault(stack, []).append(first.strip())
        for stack, names in stacks.items():
            print(f"{len(names)} thread(s) {', '.join(sorted(set(names)))}:")
            print(stack)
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
