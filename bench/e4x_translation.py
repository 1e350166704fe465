#!/usr/bin/env python3
"""Start-of-run cost of a workflow script: translating a 500-line E4X script, then QuickJS with the E4X runtime;
and the cost per record of building an XML literal and turning it into text, as a script calling Ingest does, and
of appending literals to a collection and writing the collection's text once.

Prints the best and median of N runs in milliseconds, and a pure-Python calibration loop (1M empty iterations) so a
figure taken on a loaded machine can be read against an idle one. Usage: bench/e4x_translation.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import quickjs

from ferry.scripts.e4x import RUNTIME_JS
from ferry.scripts.e4x import translate as cached_translate

translate = cached_translate.__wrapped__  # measure the translation itself, not the per-process cache of it

# Eleven lines of the E4X an ingestion script uses: literals with {expr}, attributes, .., .(filter), for each,
# == by value, typeof, += on a list. Repeated to the size asked.
BLOCK = """function build{i}(rec) {{
  var x = <recipient xtkschema="nms:recipientStg" email={{rec.email}} firstName={{rec.first}} lastName={{rec.last}}>
    <note kind="a">{{rec.note}} &amp; more</note>
  </recipient>;
  if (x.@email == null || x.@email == "") logInfo("no email " + {i});
  for each (var n in x..note) {{ if (n.@kind == "a" && typeof n == "xml") x.@flag = "1"; }}
  var l = new XMLList();
  l += <v id={{{i}}}/>;
  var y = x.note.(@kind == "a").length() / 2;
  return x;
}}
"""


def script(lines: int) -> str:
    per_block = BLOCK.count("\n")
    return "".join(BLOCK.format(i=i) for i in range(max(1, lines // per_block)))


def timed(work: Callable[[], object], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return {"best_ms": round(min(times), 2), "median_ms": round(statistics.median(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--lines", type=int, default=500)
    args = parser.parse_args()
    source = script(args.lines)
    code = translate(source).code

    def start_engine() -> None:
        ctx = quickjs.Context()
        ctx.eval(RUNTIME_JS)
        ctx.eval(code)

    # What one record costs in the engine: an XML literal with {expressions}, then its text for the host.
    records = 20_000
    loop = translate(
        f"for (var i = 0; i < {records}; i++) {{"
        ' var doc = <recipient xtkschema="nms:recipientStg" email={"user" + i + "@example.com"} firstName="John"'
        ' lastName={"Doe" + i}/>; __e4x_toXMLString(doc); }'
    ).code
    ctx = quickjs.Context()
    ctx.eval(RUNTIME_JS)
    per_record = timed(lambda: ctx.eval(loop), 3)
    # A collection as bench/scenarios/scripts.py builds it: appendChild of a literal per record, then its text.
    collection = translate(
        'var all = <recipient-collection xtkschema="nms:recipient"/>;'
        f" for (var i = 0; i < {records}; i++) {{"
        ' all.appendChild(<recipient email={"user" + i + "@example.com"} firstName="John" lastName={"Doe" + i}/>); }'
        " __e4x_toXMLString(all).length"
    ).code

    def build_collection() -> None:
        fresh = quickjs.Context()
        fresh.eval(RUNTIME_JS)
        fresh.eval(collection)

    per_collected = timed(build_collection, 3)

    started = time.perf_counter()
    for _ in range(1_000_000):
        pass
    calibration = (time.perf_counter() - started) * 1000
    report = {
        "script_lines": source.count("\n"),
        "translate": timed(lambda: translate(source), args.repeats),
        "engine_runtime_and_compile": timed(start_engine, args.repeats),
        "whole_start": timed(lambda: (translate(source), start_engine()), args.repeats),
        "literal_to_text_us_per_record": {
            k.replace("_ms", "_us"): round(v * 1000 / records, 1) for k, v in per_record.items()
        },
        "collection_append_and_text_us_per_record": {
            k.replace("_ms", "_us"): round(v * 1000 / records, 1) for k, v in per_collected.items()
        },
        "calibration_1M_empty_loop_ms": round(calibration, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
