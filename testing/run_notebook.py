"""Execute one notebook headlessly with nbclient and record every iopub message.

Usage (with the project's venv Python, after scripts/setup.sh):

    $DH_PYTHON tests/notebooks/run_notebook.py notebooks/00_smoke.ipynb [--timeout 120] [--out-dir DIR]

Writes two files into DIR (default: <project>/test-results/notebooks/):

- ``<name>.ipynb``: the executed notebook, as nbclient left it (outputs, in-place display updates applied);
- ``<name>.json``: a report. Per cell: its source, its outputs in the executed notebook and every iopub message
  whose parent is that cell's execute request, in arrival order. Messages whose parent is no cell go to
  ``other_messages``. ``display_ids`` sums up each display id: the cell of its first ``display_data``, how many
  updates arrived, and where nbclient keeps its output (``[cell, output]`` pairs).

Each message record holds ``seq``, ``t`` (seconds since the kernel client started), ``msg_type``,
``parent_cell`` (the cell whose execute request is the parent, or null), ``running_cell`` (the cell nbclient
was executing when the message was read, or null after the last cell), ``applied`` (whether nbclient
processed it: messages arriving after their cell went idle are dropped by nbclient; the Deno 2.9 kernel can
publish a cell's last outputs after the cell's idle status),
and, by type, ``display_id``, ``data``, ``metadata``, ``name``/``text``, ``ename``/``evalue``/``traceback``,
``execution_state``.

Errors inside cells do not stop the run (``allow_errors``); they appear as ``error`` outputs and messages.
The exit code is 0 when every cell ran, 1 when the run failed (cell timeout, dead kernel, kernel not found),
2 for bad arguments. The kernel inherits this process's environment (DH_HOST, DH_PORT, JUPYTER_PATH, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import sys
import time
import traceback
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from nbclient import NotebookClient

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = PROJECT_ROOT / "test-results" / "notebooks"
DISPLAY_TYPES = {"display_data", "update_display_data", "execute_result"}


class RecordingClient(NotebookClient):
    """A NotebookClient that logs every iopub message it reads, and drains late ones before shutdown."""

    def __init__(self, nb: Any, drain_seconds: float = 1.0, **kw: Any) -> None:
        super().__init__(nb, **kw)
        self.records: list[dict[str, Any]] = []
        self._records_by_msg_id: dict[str, dict[str, Any]] = {}
        self._cell_of_request: dict[str, int] = {}
        self._running_cell: int | None = None
        self._t0 = time.monotonic()
        self._drain_seconds = drain_seconds
        self.final_display_map: dict[str, dict[int, list[int]]] = {}

    async def async_start_new_kernel_client(self) -> Any:
        kc = await super().async_start_new_kernel_client()
        self._t0 = time.monotonic()
        channel = kc.iopub_channel
        read = channel.get_msg
        send_execute = kc.execute

        async def get_msg(*args: Any, **kwargs: Any) -> dict[str, Any]:
            msg = await read(*args, **kwargs)
            self._record(msg)
            return msg

        def execute(*args: Any, **kwargs: Any) -> str:
            msg_id = send_execute(*args, **kwargs)
            if self._running_cell is not None:
                self._cell_of_request[msg_id] = self._running_cell
            return msg_id

        channel.get_msg = get_msg
        kc.execute = execute
        return kc

    def _record(self, msg: dict[str, Any]) -> None:
        content = copy.deepcopy(msg.get("content") or {})
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        parent_id = (msg.get("parent_header") or {}).get("msg_id")
        rec: dict[str, Any] = {
            "seq": len(self.records),
            "t": round(time.monotonic() - self._t0, 4),
            "msg_type": msg_type,
            "parent_cell": self._cell_of_request.get(parent_id) if parent_id else None,
            "running_cell": self._running_cell,
            "applied": False,
        }
        transient = content.get("transient") or {}
        if transient.get("display_id") is not None:
            rec["display_id"] = transient["display_id"]
        if msg_type in DISPLAY_TYPES:
            rec["data"] = content.get("data", {})
            rec["metadata"] = content.get("metadata", {})
        elif msg_type == "stream":
            rec["name"] = content.get("name")
            rec["text"] = content.get("text")
        elif msg_type == "error":
            rec["ename"] = content.get("ename")
            rec["evalue"] = content.get("evalue")
            rec["traceback"] = content.get("traceback")
        elif msg_type == "status":
            rec["execution_state"] = content.get("execution_state")
        elif msg_type == "clear_output":
            rec["wait"] = content.get("wait")
        self.records.append(rec)
        msg_id = (msg.get("header") or {}).get("msg_id")
        if msg_id:
            self._records_by_msg_id[msg_id] = rec

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        rec = self._records_by_msg_id.get((msg.get("header") or {}).get("msg_id", ""))
        if rec is not None:
            rec["applied"] = True
        return super().process_message(msg, cell, cell_index)

    async def async_execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
        self._running_cell = cell_index
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        finally:
            self._running_cell = None

    async def _async_cleanup_kernel(self) -> None:
        # Read what is still queued (late outputs, background updates) so the report holds it.
        if self.kc is not None and self._drain_seconds > 0:
            deadline = time.monotonic() + self._drain_seconds
            try:
                while (left := deadline - time.monotonic()) > 0:
                    await self.kc.iopub_channel.get_msg(timeout=left)
            except Empty:
                pass
            except Exception:  # noqa: BLE001 - the channel may already be closed; the report is best effort
                pass
        self.final_display_map = {k: {int(c): list(v) for c, v in m.items()} for k, m in self._display_id_map.items()}
        await super()._async_cleanup_kernel()


def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def build_report(nb_path: Path, client: RecordingClient, executed: Any, seconds: float,
                 failure: str | None) -> dict[str, Any]:
    """Assembles the JSON report from the executed notebook and the recorded messages."""
    cells = []
    for index, cell in enumerate(executed.cells):
        cells.append({
            "index": index,
            "cell_type": cell.cell_type,
            "source": _source(cell),
            "outputs": cell.get("outputs", []) if cell.cell_type == "code" else [],
            "messages": [r for r in client.records if r["parent_cell"] == index],
        })
    display_ids: dict[str, dict[str, Any]] = {}
    for rec in client.records:
        did = rec.get("display_id")
        if did is None:
            continue
        entry = display_ids.setdefault(did, {
            "first_cell": None, "display_data": 0, "updates": 0, "applied_updates": 0, "outputs": [],
        })
        if rec["msg_type"] in ("display_data", "execute_result"):
            entry["display_data"] += 1
            if entry["first_cell"] is None:
                entry["first_cell"] = rec["parent_cell"]
        elif rec["msg_type"] == "update_display_data":
            entry["updates"] += 1
            if rec["applied"]:
                entry["applied_updates"] += 1
    for did, where in client.final_display_map.items():
        entry = display_ids.setdefault(did, {
            "first_cell": None, "display_data": 0, "updates": 0, "applied_updates": 0, "outputs": [],
        })
        entry["outputs"] = [[c, o] for c, outs in sorted(where.items()) for o in outs]
    return {
        "notebook": str(nb_path),
        "kernel": client.kernel_name,
        "seconds": round(seconds, 3),
        "ok": failure is None,
        "failure": failure,
        "message_count": len(client.records),
        "cells": cells,
        "other_messages": [r for r in client.records if r["parent_cell"] is None],
        "display_ids": display_ids,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    parser.add_argument("--startup-timeout", type=int, default=60, help="seconds for the kernel to start")
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's kernelspec)")
    parser.add_argument("--drain", type=float, default=1.0,
                        help="seconds to keep reading iopub after the last cell (default 1)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args(argv)

    nb_path: Path = args.notebook.resolve()
    if not nb_path.is_file():
        print(f"run_notebook: {nb_path} does not exist; pass the path of an .ipynb file", file=sys.stderr)
        return 2
    nb = nbformat.read(nb_path, as_version=4)
    kernel = args.kernel or nb.metadata.get("kernelspec", {}).get("name") or "deno"
    client = RecordingClient(
        nb,
        drain_seconds=args.drain,
        kernel_name=kernel,
        timeout=args.timeout,
        startup_timeout=args.startup_timeout,
        allow_errors=True,
        record_timing=True,
        resources={"metadata": {"path": str(nb_path.parent)}},
    )
    started = time.monotonic()
    failure: str | None = None
    try:
        asyncio.run(client.async_execute())
    except Exception as e:  # noqa: BLE001 - reported in the JSON and on stderr
        failure = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    seconds = time.monotonic() - started

    args.out_dir.mkdir(parents=True, exist_ok=True)
    out_nb = args.out_dir / nb_path.name
    out_report = args.out_dir / (nb_path.stem + ".json")
    nbformat.write(client.nb, out_nb)
    report = build_report(nb_path, client, client.nb, seconds, failure)
    report["executed_notebook"] = str(out_nb)
    out_report.write_text(json.dumps(report, indent=1, default=str) + "\n")
    status = "ok" if failure is None else f"FAILED ({failure})"
    print(f"run_notebook: {nb_path.name}: {status} in {seconds:.1f} s, {len(client.records)} iopub messages; "
          f"report {out_report}", file=sys.stderr)
    return 0 if failure is None else 1


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    sys.exit(main(sys.argv[1:]))
