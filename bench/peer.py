"""The Python peers of the benchmark (bench/run.ts starts this once per workload, in the project venv).

Modes:
  doget   pydeephaven: session.open_table(name).to_arrow() (pyarrow Flight DoGet), timed per repetition.
  listen  pydeephaven-ticking: listen(open_table(name), listener) for --seconds; the handle's processing loop is
          the library's own, with the C++ BarrageProcessor.process_next_chunk call timed (the apply time).

Prints one JSON line on stdout. Usage:
  python bench/peer.py --mode doget --port 10000 --table S1 --reps 5
"""

import argparse
import gc
import json
import re
import sys
import threading
import time

from pydeephaven import Session


def status_kib(field):
    with open("/proc/self/status") as f:
        m = re.search(field + r":\s+(\d+)", f.read())
    return int(m.group(1)) if m else 0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def server_cpu_ms(pid):
    if not pid:
        return 0
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split(" ")
        return (int(fields[11]) + int(fields[12])) * 10
    except OSError:
        return 0


def log(msg):
    print("peer: " + msg, file=sys.stderr, flush=True)


def doget_rep(session, args, name):
    gc.collect()
    reset_peak()
    c0, s0 = time.process_time(), server_cpu_ms(args.server_pid)
    t0 = time.perf_counter()
    table = session.open_table(name).to_arrow()
    ms = (time.perf_counter() - t0) * 1000
    return {
        "ms": ms,
        "rows": table.num_rows,
        "peakRssMiB": status_kib("VmHWM") / 1024,
        "cpuMs": (time.process_time() - c0) * 1000,
        "serverCpuMs": server_cpu_ms(args.server_pid) - s0,
        "arrowBytes": table.nbytes,
    }


def doget(args):
    session = Session(host=args.host, port=args.port, auth_type="Anonymous")
    reps = []
    for i in range(args.reps):
        r = doget_rep(session, args, args.table)
        arrow_bytes = r.pop("arrowBytes")
        reps.append(r)
        log("rep %d: %.0f ms" % (i + 1, r["ms"]))
    session.close()
    return {"reps": reps, "arrowBytes": arrow_bytes}


def serve(args):
    """One JSON command a line on stdin ({"table": "S1"}), one JSON answer a line on stdout."""
    session = Session(host=args.host, port=args.port, auth_type="Anonymous")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            answer = doget_rep(session, args, cmd["table"])
        except Exception as e:  # noqa: BLE001 (reported to the driver)
            answer = {"error": str(e)}
        print(json.dumps(answer), flush=True)
    session.close()


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


def listen_mode(args):
    import pyarrow as pa
    from pydeephaven_ticking.table_listener import TableListener, TableListenerHandle, TableUpdate, listen

    class TimedHandle(TableListenerHandle):
        """The library's processing loop (TableListenerHandle._process_data), with process_next_chunk timed."""

        busy_ns = 0

        def _process_data(self):
            try:
                while not self._cancelled:
                    data, metadata = self._reader.read_chunk()
                    t = time.perf_counter_ns()
                    ticking_update = self._bp.process_next_chunk(data.columns, metadata)
                    self.busy_ns += time.perf_counter_ns() - t
                    if ticking_update is not None:
                        self._listener.apply_ns = self.busy_ns
                        self.busy_ns = 0
                        self._listener.on_update(TableUpdate(ticking_update))
            except StopIteration:
                pass
            except Exception as e:  # noqa: BLE001 (as the library does)
                if not self._cancelled:
                    self._listener.on_error(e)
            try:
                if not self._reader_cancelled:
                    self._reader_cancelled = True
                    self._reader.cancel()
                self._writer.close()
            except Exception:  # noqa: BLE001
                pass

    state = {
        "updates": [], "lat": [], "samples": [], "max_ts": 0, "first_ts": None, "last_sample": 0.0,
        "local_rows": 0, "ready": threading.Event(), "measuring": False, "t_start": 0.0, "errors": [],
    }

    class Listener(TableListener):
        apply_ns = 0

        def on_update(self, update):
            now = time.perf_counter()
            now_ns = time.time_ns()
            u = update.update
            added = u.added_rows.size
            mod_rows = u.all_modified_rows.size
            state["local_rows"] = u.current.num_rows
            measuring = state["measuring"]
            source = update.added(["Timestamp"]) if added else (update.modified(["Timestamp"]) if mod_rows else {})
            if "Timestamp" in source:
                arr = source["Timestamp"].cast(pa.int64()).to_numpy(zero_copy_only=False)
                if len(arr):
                    if measuring:
                        step = max(1, len(arr) // 1000)
                        for v in arr[::step]:
                            state["lat"].append((now_ns - int(v)) / 1e6)
                    state["max_ts"] = max(state["max_ts"], int(arr.max()))
                    if state["first_ts"] is None:
                        state["first_ts"] = int(arr.min())
            state["ready"].set()
            if not measuring:
                return
            t = (now - state["t_start"]) * 1000
            mod_cells = sum(rs.size for rs in u.modified_rows)
            state["updates"].append({
                "t": t, "apply": self.apply_ns / 1e6, "added": added, "modRows": mod_rows, "modCells": mod_cells,
            })
            if now - state["last_sample"] >= 0.5:
                state["last_sample"] = now
                server_rows = None
                if args.period_ns and state["first_ts"] is not None:
                    server_rows = (now_ns - state["first_ts"]) // args.period_ns + 1
                state["samples"].append({
                    "t": t, "lagMs": (now_ns - state["max_ts"]) / 1e6, "localRows": state["local_rows"],
                    "serverRows": server_rows, "rssMiB": status_kib("VmRSS") / 1024,
                })

        def on_error(self, error):
            state["errors"].append(str(error))
            state["ready"].set()

    session = Session(host=args.host, port=args.port, auth_type="Anonymous")
    t0 = time.perf_counter()
    table = session.open_table(args.table)
    handle = listen(table, Listener())
    handle.__class__ = TimedHandle
    handle.start()
    if not state["ready"].wait(60):
        raise RuntimeError("pydeephaven-ticking got no snapshot within 60 s")
    ready_ms = (time.perf_counter() - t0) * 1000
    initial_rows = state["local_rows"]
    # Let the subscription settle after its snapshot, then measure a window of --seconds, as the Deno client does.
    time.sleep(args.settle_ms / 1000)
    c0, s0 = time.process_time(), server_cpu_ms(args.server_pid)
    reset_peak()
    state["t_start"] = time.perf_counter()
    state["measuring"] = True
    time.sleep(args.seconds)
    state["measuring"] = False
    elapsed = time.perf_counter() - state["t_start"]
    cpu_run = (time.process_time() - c0) * 1000
    server_cpu = server_cpu_ms(args.server_pid) - s0
    peak = status_kib("VmHWM") / 1024
    final_rows = state["local_rows"]
    handle.stop()
    session.close()
    if state["errors"]:
        raise RuntimeError("pydeephaven-ticking reported: " + "; ".join(state["errors"]))
    updates = state["updates"]
    added = sum(u["added"] for u in updates)
    mod_rows = sum(u["modRows"] for u in updates)
    mod_cells = sum(u["modCells"] for u in updates)
    applies = sorted(u["apply"] for u in updates)
    lat = sorted(state["lat"])
    n = int(elapsed)
    per_second = [0] * n
    for u in updates:
        s = int(u["t"] // 1000)
        if s < n:
            per_second[s] += u["added"] + u["modRows"]
    return {
        "seconds": elapsed,
        "initialRows": initial_rows,
        "readyMs": ready_ms,
        "updates": len(updates),
        "addedRows": added,
        "modifiedRows": mod_rows,
        "modifiedCells": mod_cells,
        "rowsPerSec": (added + mod_rows) / elapsed,
        "modCellsPerSec": mod_cells / elapsed,
        "applyMs": {"p50": percentile(applies, 0.5), "p99": percentile(applies, 0.99),
                    "max": applies[-1] if applies else None},
        "applyTotalMs": sum(applies),
        "latencyMs": {"p50": percentile(lat, 0.5), "p95": percentile(lat, 0.95), "p99": percentile(lat, 0.99)},
        "clientCpuMs": cpu_run,
        "serverCpuMs": server_cpu,
        "peakRssMiB": peak,
        "finalLocalRows": final_rows,
        "samples": state["samples"],
        "perSecond": per_second,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", required=True, choices=["doget", "listen"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=10000)
    p.add_argument("--table", default="S1")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--server-pid", type=int, default=0)
    p.add_argument("--period-ns", type=int, default=0)
    p.add_argument("--settle-ms", type=float, default=2000)
    p.add_argument("--serve", action="store_true", help="doget: answer one repetition per command line on stdin")
    args = p.parse_args()
    if args.serve:
        serve(args)
        return
    result = doget(args) if args.mode == "doget" else listen_mode(args)
    print(json.dumps({"mode": args.mode, "table": args.table, **result}), flush=True)


if __name__ == "__main__":
    main()
