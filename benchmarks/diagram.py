"""How long the server takes to build the lab's figures and equations, per preset.

    .venv/bin/python benchmarks/diagram.py                 # every preset
    .venv/bin/python benchmarks/diagram.py xor hw7-autoencoder

For every sub-step of a preset's lab, the calls `webapp.lab.view.build_viewer`
makes: the network diagram serialised with `plotly.io.to_json` (as the lab
does, to share equal diagrams), the loss curve of each SGD step, and the
sub-step's title and MathML equations; then `build_viewer` as a whole (it
adds the heatmaps, the tables and the page's JSON). The diagrams are drawn
for a fresh trace object each run, so the colour ranges (computed once per
trace) are counted as the lab pays them. Each number is the median
of 5 runs, in milliseconds, after one warm-up run.

Target: the diagrams of the xor preset's lab (10 SGD steps, 60 sub-steps)
in under 100 ms.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import plotly.io as pio  # noqa: E402

from engine import presets, timeline  # noqa: E402
from engine import spec as specmod  # noqa: E402
from engine import trace as tracemod  # noqa: E402
from webapp.figures import diagram, loss_curve  # noqa: E402
from webapp.lab import view as lab_view  # noqa: E402
from webapp.notation import equations  # noqa: E402

RUNS = 5
TARGET_XOR_MS = 100.0


def median_ms(work, runs: int = RUNS) -> float:
    work()  # warm-up: imports, caches of the colour scale
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(preset_id: str) -> dict[str, float]:
    spec = specmod.from_request(presets.get(preset_id).body())
    trace = tracemod.run(spec)
    substeps = timeline.substeps(len(spec.layers), spec.steps)

    def diagrams():
        fresh = dataclasses.replace(trace)  # a new trace object: its colour ranges are computed again
        for substep in substeps:
            pio.to_json(diagram.network_figure(spec, fresh, substep), validate=False)

    def loss_curves():
        for step in range(spec.steps):
            pio.to_json(loss_curve.loss_curve_figure(trace, step), validate=False)

    def equation_text():
        for substep in substeps:
            equations.title(spec, substep)
            equations.equation(spec, trace, substep)

    return {
        "substeps": len(substeps),
        "diagrams": median_ms(diagrams),
        "loss curves": median_ms(loss_curves),
        "equations": median_ms(equation_text),
        "build_viewer": median_ms(lambda: lab_view.build_viewer(spec, trace, None), runs=3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="preset ids (default: all)")
    chosen = parser.parse_args().presets or [p.id for p in presets.PRESETS]
    columns = ["substeps", "diagrams", "loss curves", "equations", "build_viewer"]
    print(f"{'preset':<20}" + "".join(f"{c:>14}" for c in columns) + "   (ms, median)")
    for preset_id in chosen:
        found = measure(preset_id)
        cells = [f"{found['substeps']:>14d}"] + [f"{found[c]:>14.1f}" for c in columns[1:]]
        print(f"{preset_id:<20}" + "".join(cells))
        if preset_id == "xor":
            verdict = "meets" if found["diagrams"] < TARGET_XOR_MS else "misses"
            print(f"{'':<20}xor diagrams {found['diagrams']:.1f} ms {verdict} the {TARGET_XOR_MS:.0f} ms target")


if __name__ == "__main__":
    main()
