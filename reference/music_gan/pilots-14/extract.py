"""Write pilots.json: the musical measures that the issue-14 pilot runs logged to TensorBoard.

The pilots ran in /tmp (not committed: 11 MB each) with `python -m musicgan train --config cpu --set
model.generator=G --set train.steps=N --set train.progress=false --out /tmp/pil/NAME`, at the working-tree
states described in DESIGNS, and were stopped when their first musical measures were read. Usage:
`python reference/music_gan/pilots-14/extract.py /tmp/pil` (run once, 2026-11-30).
"""
import json
import sys
from pathlib import Path

from musicgan.tblog import read_scalars

DESIGNS = {
    "notes": "note output; conv: stride-2 transposed convolutions; floor at band mean - 2 std; no noise bands",
    "notes2": "as notes, conv: nearest upsampling + 3x3 convolution; notes start at log-activation -6",
    "notes3": "as notes2, plus 16 filtered-noise bands; floor at band mean - 3 std",
}

root = Path(sys.argv[1])
out = {"designs": DESIGNS, "runs": {}}
for design in DESIGNS:
    for family in ("conv", "lstm"):
        scalars = read_scalars(root / f"{family}-{design}")
        music = {tag: dict(zip(map(int, s), map(float, v))) for tag, (s, v) in scalars.items()
                 if tag.startswith("music")}
        last = int(max(scalars["loss/D"][0]))
        out["runs"][f"{family}-{design}"] = {"family": family, "design": design, "last_step": last,
                                             "music": music}
(Path(__file__).parent / "pilots.json").write_text(json.dumps(out, indent=1) + "\n")
