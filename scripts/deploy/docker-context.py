#!/usr/bin/env python3
"""Copies the repository's Docker build context to DIR: what `docker build .` sends, that is
every file that .dockerignore does not exclude (Go filepath.Match patterns plus `**`, a leading
`/` ignored, `!` exceptions, the last matching pattern wins, a pattern that matches a folder
excludes everything in it). The candidates are the files git does not ignore, so that a local
target/ or .cache/ costs nothing to skip.

  docker-context.py DIR
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pattern_regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def rules():
    found = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        found.append((keep, pattern_regex(pattern)))
    return found


def excluded(path, patterns):
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for keep, regex in patterns:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not keep
    return result


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split("\0")
    patterns = rules()
    count = 0
    for path in filter(None, listed):
        source = ROOT / path
        if not source.is_file() or excluded(path, patterns):
            continue
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        count += 1
    print(f"build context: {count} files in {out}")


if __name__ == "__main__":
    main()
