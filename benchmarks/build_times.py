"""Measure how long the README's commands take on this machine, on a clean clone; write build_times.json.

    python benchmarks/build_times.py [--out benchmarks/build_times.json]

Steps, each timed with a wall clock: `make venv` (fresh .venv from requirements.txt), `make book` cold
(empty _build), `make book` warm (nothing changed, everything cached), `make test`. The book's
"Reproducing this book" page reads the JSON this writes. This is a record, not a benchmark: it
takes tens of minutes and is run by hand before a release.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = [("venv", ["make", "venv"]), ("book_cold", ["make", "book"]), ("book_warm", ["make", "book"]),
         ("test", ["make", "test"])]


def timed(cmd: list[str], cwd: Path, log) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd} (exit {result.returncode}); see {log.name}")
    return time.perf_counter() - start


def pdf_pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "build_times.json")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    record = {"commit": commit, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
              "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}",
              "seconds": {}}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        log_path = ROOT / "_build" / "build_times.log"      # kept: the clone goes when this ends
        log_path.parent.mkdir(exist_ok=True)
        print(f"log: {log_path}", flush=True)
        with open(log_path, "w") as log:
            for name, cmd in STEPS:
                record["seconds"][name] = round(timed(cmd, clone, log), 1)
                print(f"{name}: {record['seconds'][name]} s", flush=True)
        record["pdf_pages"] = pdf_pages(clone / "_build" / "latex" / "book.pdf")
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
