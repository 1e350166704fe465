"""The pipe between the parent and the engine's worker: frames, the call relayed as the shim wrote it, the codec."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest

from ferry.scripts import frames
from ferry.scripts.results import ScriptResult
from ferry.scripts.runner import _answer, _Worker
from script_bench import ScriptBench

VALUES: list[Any] = [{"a": [1, 2.5, None, True, False, "é\u2028\ud800", {"x": -0.0}], "b": 10**30}, "x", [], {},
                     1e300, "\"\\\n\t"]


@pytest.mark.parametrize("value", VALUES)
def test_the_codec_writes_and_reads_as_json_does(value: Any) -> None:
    assert frames.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert frames.dumps(value, ascii=False) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert frames.loads(frames.dumps(value)) == json.loads(json.dumps(value))
    assert frames.loads(frames.dumps(value).encode()) == json.loads(json.dumps(value))


@pytest.mark.parametrize("text", ["", "{", "1 2", '{"a":1}x', "nope"])
def test_the_codec_refuses_what_is_not_one_json_text(text: str) -> None:
    with pytest.raises(ValueError):
        frames.loads(text)


@pytest.mark.parametrize("arguments", ['{"op":"ingest"}', '1,"t":"done","outcome":"succeeded"',
                                       '{"op":"x"},"t":"log","level":"info","message":"forged"'])
def test_a_relayed_call_is_read_as_a_call_whatever_its_text(arguments: str) -> None:
    body = frames.call_frame(arguments)[4:]
    try:
        message = json.loads(body)
    except ValueError:
        assert body.endswith(frames.CALL_END)  # the parent answers it as a call with bad arguments
    else:
        assert message["t"] == "call"


def test_frames_are_read_whole_across_reads_and_several_per_read() -> None:
    read_end, write_end = os.pipe()
    messages = [{"t": "log", "message": "x" * 100_000}, {"t": "call", "a": {"op": "ingest"}}, {"t": "done"}]
    data = b"".join(frames.encode(message) for message in messages)
    writer = threading.Thread(target=lambda: (frames.write(write_end, data), os.close(write_end)))
    writer.start()
    reader = frames.Reader(read_end)
    try:
        assert [reader.message() for _ in messages] == messages
        with pytest.raises(frames.PipeClosed):
            reader.body()
    finally:
        writer.join()
        os.close(read_end)


class _Pipe:
    """A worker stand-in whose output the test writes."""

    def __init__(self, data: bytes) -> None:
        self._buffer = bytearray(data)


def test_a_call_whose_arguments_are_not_json_is_answered_with_an_error() -> None:
    worker: Any = _Pipe(frames.call_frame("nope"))
    message = _Worker._complete(worker)
    assert message is not None and message["t"] == "call"
    answer = _answer(object(), ScriptResult("failed", None, None, None), message["a"])
    assert answer["error"]["code"] == "FRY-130007"


def test_any_other_undecodable_message_ends_the_run_as_a_broken_engine() -> None:
    worker: Any = _Pipe(frames.frame(b'{"t":"log",'))
    message = _Worker._complete(worker)
    assert message is not None and message["t"] == "done" and message["outcome"] == "failed"
    assert message["error"]["code"] == "FRY-130007"


def test_a_script_that_replaces_json_stringify_gets_a_coded_error_and_goes_on(bench: ScriptBench) -> None:
    result = bench.run('''
        var kept = JSON.stringify;
        var forged = ['nope', '1,"t":"done","outcome":"succeeded"'];
        for (var i = 0; i < forged.length; i++) {
          JSON.stringify = function () { return forged[i]; };
          try { xtk.session.Ingest(<sampleTableStg testcol1="a" xtkschema="dem:sampleTableStg"/>); }
          catch (e) { JSON.stringify = kept; logInfo(e.code); }
        }
        JSON.stringify = kept;
        logInfo(typeof xtk.session.Ingest(<sampleTableStg testcol1="b" xtkschema="dem:sampleTableStg"/>));''')
    assert result.outcome == "succeeded", (result.error, result.logs)
    assert [line.message for line in result.logs] == ["FRY-130007", "FRY-130007", "string"]
    assert len(result.request_ids) == 1


def test_a_lone_surrogate_in_a_call_is_a_coded_error_and_nothing_is_staged(bench: ScriptBench) -> None:
    result = bench.run('''
        var docs = [<sampleTableStg testcol1={"a\\ud800"} xtkschema="dem:sampleTableStg"/>,
                    {sampleTableStg: {xtkschema: "dem:sampleTableStg", testcol1: "b\\udc00"}}];
        for (var i = 0; i < docs.length; i++) {
          try { xtk.session.Ingest(docs[i]); } catch (e) { logInfo(e.code); }
        }
        var whole = xtk.session.Ingest(<sampleTableStg testcol1={"\\ud83d\\ude00"} xtkschema="dem:sampleTableStg"/>);
        logInfo(whole ? "ok" : "");''')
    assert result.outcome == "succeeded", (result.error, result.logs)
    assert [line.message for line in result.logs] == ["FRY-130007", "FRY-130007", "ok"]
    assert len(result.request_ids) == 1  # a whole character (a surrogate pair) goes through
