"""Differential suite: every probe under probes/ runs in Mozilla Rhino (Debian's `rhino`, which implements E4X) and in
ferry (translation + QuickJS + the E4X runtime); what they print must match, modulo Rhino's XML layout, except the
known differences listed here (each explained in docs/workflows.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
import quickjs
from lxml import etree

from ferry.errors import FerryError
from ferry.scripts.e4x import RUNTIME_JS, translate

HERE = Path(__file__).parent
PROBES = sorted((HERE / "probes").glob("*.js"))
SEP = "\x01"

# Probe -> why ferry prints something else than Rhino. Keep in step with docs/workflows.md ("E4X: what runs").
KNOWN_DIFFERENCES: dict[str, str] = {
    "attr_parent": "Rhino answers undefined for the parent() of an attribute list; ferry the owning element (ECMA-357)",
    "eq_empty_list_undefined": "an empty list == undefined: true in ferry (ECMA-357, SpiderMonkey), false in Rhino",
    "eq_text_node_attr": "attribute == element of simple content: Rhino false, ferry compares text (ECMA-357 11.5.1)",
    "xmlctor_bad": "malformed XML text throws SyntaxError in ferry (as SpiderMonkey), TypeError in Rhino",
    "xmlctor_declaration": "new XML(text) accepts a leading <?xml …?> declaration in ferry; Rhino throws",
}


class Outcome:
    """What one probe printed (one record per print() call) and whether it ended with an error."""

    def __init__(self) -> None:
        self.records: list[str] = []
        self.error: str | None = None


def _unescape(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(line[i + 1], line[i + 1]))
            i += 2
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


@pytest.fixture(scope="session")
def rhino_outcomes(unavailable: Callable[[str], NoReturn]) -> dict[str, Outcome]:
    """All probes run once in one Rhino JVM (each in a fresh scope)."""
    rhino = shutil.which("rhino")
    if rhino is None or shutil.which("java") is None:
        unavailable("Rhino (Debian package `rhino`) is needed for the E4X differential suite")
    done = subprocess.run(
        [rhino, str(HERE / "rhino_driver.js"), *(str(p) for p in PROBES)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
        check=False,
    )
    outcomes: dict[str, Outcome] = {}
    current: Outcome | None = None
    for line in done.stdout.splitlines():
        if line.startswith(SEP + "PROBE "):
            current = outcomes.setdefault(Path(line[len(SEP) + 6 :]).stem, Outcome())
        elif line.startswith(SEP + "ERROR ") and current is not None:
            current.error = _unescape(line[len(SEP) + 6 :])
        elif current is not None:
            current.records.append(_unescape(line))
    if len(outcomes) != len(PROBES):
        pytest.fail(f"Rhino ran {len(outcomes)} of {len(PROBES)} probes: {done.stderr[-2000:]}")
    return outcomes


def run_in_ferry(path: Path) -> Outcome:
    outcome = Outcome()
    ctx = quickjs.Context()
    ctx.add_callable("__print", outcome.records.append)
    ctx.eval(RUNTIME_JS)
    ctx.eval("function print() { __print(Array.prototype.map.call(arguments, String).join(' ')); }")
    try:
        ctx.eval(translate(path.read_text(encoding="utf-8"), path.name).code)
    except (quickjs.JSException, FerryError) as e:
        outcome.error = str(e)
    return outcome


def _canonical(element: etree._Element) -> tuple[object, ...]:
    kids: list[object] = []
    for child in element:
        if isinstance(child, etree._Comment):
            kids.append(("#comment", (child.text or "").strip()))
        else:
            kids.append(_canonical(child))
        if child.tail and child.tail.strip():
            kids.append(child.tail.strip())
    text = (element.text or "").strip()
    return (element.tag, tuple(sorted(element.attrib.items())), text, tuple(kids))


def _as_xml(record: str) -> tuple[object, ...] | None:
    """The record parsed as XML content (Rhino sorts attributes and indents): a canonical form, or None."""
    if "<" not in record:
        return None
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        return _canonical(etree.fromstring(f"<probe-record>{record}</probe-record>", parser))
    except etree.XMLSyntaxError:
        return None


def records_match(rhino: str, ferry: str) -> bool:
    if rhino == ferry:
        return True
    canonical = _as_xml(rhino)
    return canonical is not None and canonical == _as_xml(ferry)


def differences(rhino: Outcome, ferry: Outcome) -> list[str]:
    found = []
    for k in range(max(len(rhino.records), len(ferry.records))):
        r = rhino.records[k] if k < len(rhino.records) else "<nothing>"
        f = ferry.records[k] if k < len(ferry.records) else "<nothing>"
        if not records_match(r, f):
            found.append(f"print #{k + 1}: Rhino {r!r} / ferry {f!r}")
    if (rhino.error is None) != (ferry.error is None):
        found.append(f"error: Rhino {rhino.error!r} / ferry {ferry.error!r}")
    return found


def test_there_are_enough_probes_each_named_for_what_it_checks() -> None:
    assert len(PROBES) >= 150
    assert all(re.fullmatch(r"[a-z0-9_]+", p.stem) for p in PROBES), [p.name for p in PROBES]


def test_known_differences_name_existing_probes() -> None:
    names = {p.stem for p in PROBES}
    assert set(KNOWN_DIFFERENCES) <= names


@pytest.mark.parametrize("probe", PROBES, ids=[p.stem for p in PROBES])
def test_probe_prints_what_rhino_prints(probe: Path, rhino_outcomes: dict[str, Outcome]) -> None:
    found = differences(rhino_outcomes[probe.stem], run_in_ferry(probe))
    if probe.stem in KNOWN_DIFFERENCES:
        assert found, f"{probe.stem} now matches Rhino: remove it from KNOWN_DIFFERENCES and docs/workflows.md"
    else:
        assert not found, "\n".join(found)


def test_known_differences_are_documented() -> None:
    docs = (HERE.parents[2] / "docs" / "workflows.md").read_text(encoding="utf-8")
    section = docs.split("## E4X: what runs, and how it differs from Rhino/Campaign", 1)[1]
    for name in KNOWN_DIFFERENCES:
        assert f"`{name}`" in section, name
    # The counts the section gives are the suite's.
    assert f"({len(PROBES)} of them:" in section
    assert f"{len(PROBES) - len(KNOWN_DIFFERENCES)} print the same;" in " ".join(section.split())
    assert f"the {len(KNOWN_DIFFERENCES)} below differ" in " ".join(section.split())
