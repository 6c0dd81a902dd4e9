/**
 * Basic authentication for the embedded server: a small handler of ours (Java source below), compiled with the
 * JDK's `javac` against the server's jars the first time it is needed, cached by the hash of its source and of
 * the jars folder, and put on the server's class path. It accepts one user, whose `user:password` it reads from
 * the environment variable `DH_BASIC_AUTH` of the server process (never from the command line), and never
 * logs either part.
 *
 * Deephaven wraps a class that implements `io.deephaven.auth.BasicAuthMarshaller.Handler` (listed in the
 * `AuthHandlers` property) in its `BasicAuthMarshaller`, which decodes the `authorization: Basic <base64>`
 * header and calls `login(user, password)`; an empty result refuses the login (`UNAUTHENTICATED`).
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";

/** The fully qualified name of the handler class. */
export const BASIC_AUTH_HANDLER = "dhdeno.auth.EnvBasicAuthHandler";

/** The environment variable the handler reads `user:password` from. */
export const BASIC_AUTH_ENV = "DH_BASIC_AUTH";

/** The handler's Java source. */
export const BASIC_AUTH_JAVA: string = `package dhdeno.auth;

import io.deephaven.auth.AuthContext;
import io.deephaven.auth.BasicAuthMarshaller;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * Basic authentication for one user of the Deno module's embedded server. The credentials, "user:password",
 * come from the environment variable ${BASIC_AUTH_ENV}, read once when the server loads its handlers.
 * Neither the user nor the password is ever logged or put in an exception message.
 */
public final class EnvBasicAuthHandler implements BasicAuthMarshaller.Handler {
    private final byte[] user;
    private final byte[] password;

    public EnvBasicAuthHandler() {
        final String credentials = System.getenv("${BASIC_AUTH_ENV}");
        final int colon = credentials == null ? -1 : credentials.indexOf(':');
        if (colon <= 0) {
            throw new IllegalStateException("${BASIC_AUTH_ENV} must hold user:password");
        }
        user = credentials.substring(0, colon).getBytes(StandardCharsets.UTF_8);
        password = credentials.substring(colon + 1).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public Optional<AuthContext> login(final String username, final String pw) {
        if (username == null || pw == null) {
            return Optional.empty();
        }
        // Both comparisons always run, each in time independent of where the bytes differ.
        final boolean userMatches = MessageDigest.isEqual(user, username.getBytes(StandardCharsets.UTF_8));
        final boolean passwordMatches = MessageDigest.isEqual(password, pw.getBytes(StandardCharsets.UTF_8));
        return userMatches & passwordMatches ? Optional.of(new AuthContext.SuperUser()) : Optional.empty();
    }
}
`;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command and returns its output, or throws a DeephavenError with `FAILED_PRECONDITION`. */
async function run(cmd: string, args: string[], what: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw new DeephavenError(`${what} failed: cannot run ${cmd} (${e instanceof Error ? e.message : e})`, {
      code: GrpcCode.FAILED_PRECONDITION,
      cause: e,
    });
  }
  const d = new TextDecoder();
  if (!out.success) {
    throw new DeephavenError(
      `${what} failed (${cmd} exited with code ${out.code}): ${d.decode(out.stderr).trim().slice(0, 2000)}`,
      { code: GrpcCode.FAILED_PRECONDITION },
    );
  }
  return d.decode(out.stdout);
}

/**
 * Returns a folder of compiled classes that holds the Basic authentication handler, compiling it on first use
 * (`javac` of `javaHome`, class path: the `jars` folder of the Python package `deephaven_server`). The result
 * is cached under `cacheDir`, keyed by the source and the jars folder; concurrent callers do not clash (each
 * compiles into its own folder and renames it into place).
 *
 * @param python The Python that has `deephaven-server`.
 * @param javaHome The JDK's home (it needs `bin/javac`).
 * @param cacheDir The cache folder.
 * @returns The class folder, to put on the server's class path.
 * @throws {DeephavenError} `FAILED_PRECONDITION` when there is no JDK or the compilation fails.
 */
export async function basicAuthClasses(
  python: string,
  javaHome: string | undefined,
  cacheDir: string,
): Promise<string> {
  const what = "Compiling the embedded server's Basic authentication handler";
  const jars = (await run(python, [
    "-c",
    "import deephaven_server, os; print(os.path.join(os.path.dirname(deephaven_server.__file__), 'jars'))",
  ], `${what} (finding the server's jars)`)).trim();
  const key = (await sha256Hex(`${BASIC_AUTH_JAVA}\n${jars}`)).slice(0, 16);
  const dir = `${cacheDir}/basic-auth/${key}`;
  if (await exists(`${dir}/dhdeno/auth/EnvBasicAuthHandler.class`)) return dir;

  const javac = javaHome ? `${javaHome}/bin/javac` : "javac";
  await Deno.mkdir(`${cacheDir}/basic-auth`, { recursive: true });
  const work = await Deno.makeTempDir({ dir: `${cacheDir}/basic-auth`, prefix: `${key}-tmp-` });
  try {
    await Deno.mkdir(`${work}/src/dhdeno/auth`, { recursive: true });
    const source = `${work}/src/dhdeno/auth/EnvBasicAuthHandler.java`;
    await Deno.writeTextFile(source, BASIC_AUTH_JAVA);
    await run(
      javac,
      ["-nowarn", "--release", "17", "-cp", `${jars}/*`, "-d", `${work}/classes`, source],
      `${what} (a JDK 17+ with javac is needed; set JAVA_HOME)`,
    );
    try {
      await Deno.rename(`${work}/classes`, dir);
    } catch (e) {
      if (!(await exists(`${dir}/dhdeno/auth/EnvBasicAuthHandler.class`))) throw e; // another process won
    }
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return dir;
}
