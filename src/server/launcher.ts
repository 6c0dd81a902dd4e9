/**
 * The two files the embedded server's Python launcher needs, as text: written to a private temporary
 * folder when a server starts, so that the module works the same from a checkout, a path import or a
 * published package.
 *
 * @module
 */

/** The Python launcher: prints `READY <port>` once the server listens, exits when its stdin closes. */
export const LAUNCHER_PY: string = `#!/usr/bin/env python3
"""Start an embedded Deephaven server (pip package \`deephaven-server\`); written out by src/server/server.ts.

Prints exactly one line \`READY <port>\` on stdout once the server listens and the optional
\`--script\` has run, then keeps the server alive until stdin reaches end-of-file (the parent
closed it or died), at which point the process exits at once. That way a server is never
orphaned by a crashed parent.

The pre-shared key for \`--auth psk|both\` is read from the environment variable DH_PSK, never
from the command line. Deephaven's own output goes to this process's stdout and stderr.

Usage:
    DH_PSK=... python dh_server.py --port 10000 --auth both [--jvm-arg -Xmx2g] [--script tables.py]
        [--handler CLASS --classpath DIR]
"""

import argparse
import faulthandler
import os
import signal
import sys
import threading

ANONYMOUS_HANDLER = "io.deephaven.auth.AnonymousAuthenticationHandler"
PSK_HANDLER = "io.deephaven.authentication.psk.PskAuthenticationHandler"


def _watch_stdin() -> None:
    """Exit the whole process (JVM included) as soon as stdin reaches EOF."""
    try:
        while True:
            chunk = os.read(0, 4096)
            if not chunk:
                break
    except OSError:
        pass
    os._exit(0)


def _parse_args(argv):
    parser = argparse.ArgumentParser(description="Start an embedded Deephaven server; stops when stdin closes.")
    parser.add_argument("--port", type=int, default=10000, help="port to listen on (default 10000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--auth",
        choices=["anonymous", "psk", "both"],
        default="both",
        help="enabled authentication handlers; the PSK comes from the DH_PSK environment variable",
    )
    parser.add_argument("--jvm-arg", action="append", default=[], dest="jvm_args", help="extra JVM argument (repeatable)")
    parser.add_argument("--script", help="Python file executed in the server's global scope after start")
    parser.add_argument("--handler", action="append", default=[], dest="handlers",
                        help="another authentication handler class to enable (repeatable)")
    parser.add_argument("--classpath", action="append", default=[], dest="classpath",
                        help="a folder or jar added to the server's class path (repeatable)")
    # argparse refuses "--jvm-arg -Xmx2g" (the value looks like an option); join such pairs first.
    joined = []
    i = 0
    while i < len(argv):
        if argv[i] == "--jvm-arg" and i + 1 < len(argv):
            joined.append("--jvm-arg=" + argv[i + 1])
            i += 2
        else:
            joined.append(argv[i])
            i += 1
    return parser.parse_args(joined)


def main(argv) -> None:
    args = _parse_args(argv)

    # SIGUSR1 prints every Python thread's stack (the parent asks for it when the start hangs).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # Start the stdin watcher first, so a parent that dies during the (slow) start still ends us.
    threading.Thread(target=_watch_stdin, name="stdin-eof-watcher", daemon=True).start()

    handlers = []
    jvm_args = list(args.jvm_args)
    if args.auth in ("anonymous", "both"):
        handlers.append(ANONYMOUS_HANDLER)
    if args.auth in ("psk", "both"):
        psk = os.environ.get("DH_PSK", "")
        if not psk:
            print("dh_server: --auth %s needs the pre-shared key in the DH_PSK environment variable" % args.auth,
                  file=sys.stderr, flush=True)
            os._exit(2)
        handlers.append(PSK_HANDLER)
        jvm_args.append("-Dauthentication.psk=" + psk)
    handlers.extend(args.handlers)
    jvm_args.append("-DAuthHandlers=" + ",".join(handlers))
    if not any(a.startswith("-Dlogback.configurationFile=") for a in jvm_args):
        # Deephaven's default embedded logging only fills an in-memory buffer; send it to stdout too.
        jvm_args.append("-Dlogback.configurationFile=" + os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                       "dh_logback.xml"))

    script_source = None
    if args.script:
        with open(args.script, "r", encoding="utf-8") as f:
            script_source = f.read()

    from deephaven_server import Server

    server = Server(host=args.host, port=args.port, jvm_args=jvm_args, extra_classpath=list(args.classpath))
    server.start()

    if script_source is not None:
        # Module globals of __main__ are the server's query scope, so tables defined here are visible
        # to clients as scope names (open_table("t")).
        scope = sys.modules["__main__"].__dict__
        exec(compile(script_source, args.script, "exec"), scope)

    print("READY %d" % server.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except SystemExit as e:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(e.code if isinstance(e.code, int) else 2)
    except BaseException:  # report and exit at once: a half-started JVM must not linger
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(3)
`;

/** Deephaven's logging setup for the embedded server: log records to stdout, the PSK handler quiet. */
export const LOGBACK_XML: string =
  `<!-- Logging for the embedded server started by src/server/server.ts: Deephaven's log records go to
     stdout (which the parent appends to its log file) as well as to the in-memory
     log buffer that the web console and the ConsoleService log subscription read. -->
<configuration debug="false">
  <contextListener class="ch.qos.logback.classic.jul.LevelChangePropagator" />

  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{HH:mm:ss.SSS} %-5level %-20.20thread %-30.30logger{30} | %msg%n</pattern>
    </encoder>
  </appender>

  <appender name="LOGBUFFER" class="io.deephaven.logback.LogBufferAppender">
    <encoder>
      <pattern>%-20.20thread | %-25.25logger{25} | %m</pattern>
    </encoder>
  </appender>

  <!-- This handler logs the pre-shared key (and a URL that holds it) at WARN; keep the key out of logs. -->
  <logger name="io.deephaven.authentication.psk.PskAuthenticationHandler" level="ERROR" />

  <root level="info">
    <appender-ref ref="STDOUT" />
    <appender-ref ref="LOGBUFFER" />
  </root>
</configuration>
`;

let launcherDir: string | undefined;

/**
 * Writes the launcher and its logging setup into a private temporary folder (once per process).
 *
 * @returns The path of the launcher, `<folder>/dh_server.py`.
 */
export async function launcherPath(): Promise<string> {
  if (launcherDir === undefined) {
    const dir = await Deno.makeTempDir({ prefix: "dh-server-" });
    await Deno.writeTextFile(`${dir}/dh_server.py`, LAUNCHER_PY);
    await Deno.writeTextFile(`${dir}/dh_logback.xml`, LOGBACK_XML);
    launcherDir = dir;
  }
  return `${launcherDir}/dh_server.py`;
}

/** Removes the folder written by {@linkcode launcherPath} (at process exit). */
export function removeLauncher(): void {
  if (launcherDir === undefined) return;
  try {
    Deno.removeSync(launcherDir, { recursive: true });
  } catch {
    // already gone
  }
  launcherDir = undefined;
}
