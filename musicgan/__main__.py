"""Command line: ``python -m musicgan {prepare,train,sample,evaluate,transcriber} ...``.

Each subcommand lives in its own module, which provides ``add_arguments(parser)``
and ``run(args) -> int``; this file only dispatches, so modules are imported
lazily and a broken optional dependency of one command does not break another.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS = {
    "prepare": ("musicgan.prepare", "turn a folder of music (or the bundled Bach chorales) into a mel data set"),
    "train": ("musicgan.train", "train a GAN on a prepared data set"),
    "sample": ("musicgan.sample", "write generated clips as wav files and spectrogram PNGs"),
    "evaluate": ("musicgan.evaluate", "score generated clips against held-out real clips (JSON report)"),
    "transcriber": ("musicgan.transcriber", "train the note transcriber whose features the Frechet distance uses"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m musicgan", description="Music with a GAN: prepare mel data, train, sample and evaluate.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            cmd.set_defaults(_missing=module_name)
            continue
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_missing", None):
        parser.error(f"command {args.command!r} is not available in this version ({args._missing} missing)")
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
