/**
 * TLS and mutual TLS against real servers with their own certificates, made with openssl at test time: a CA,
 * a server certificate for `localhost` and `127.0.0.1`, a client certificate signed by the CA, and a second,
 * unrelated CA (with its own client certificate) for the cases that must fail.
 *
 * - A server with a TLS identity (`-Dssl.identity.*`): table operations and subscriptions work with the CA
 *   as `tlsRootCerts`, by name and by IP address; a wrong CA, no CA (verification is on by default: the
 *   system roots do not know the test CA) and plaintext all fail with a DeephavenError.
 * - A server that requires client certificates (`-Dssl.clientAuthentication=NEEDED`, trusting the CA through
 *   `-Dssl.trust.*`): a client with a certificate signed by the CA is accepted; none, or one from another CA,
 *   is refused.
 * - `resolveUri("dh://...")` subscribes over TLS.
 *
 * The servers are started by this file (the harness's readiness probe speaks plaintext). A set
 * `GRPC_DEFAULT_SSL_ROOTS_FILE_PATH` breaks TLS servers run in Deno (grpc-js sends the whole bundle); here the client only
 * reads it for its default roots (the system bundle), which is what the "no CA" case relies on.
 */

import assert from "node:assert/strict";
import { barrageSession, type ConnectOptions, GrpcCode, resolveUri, Session } from "../../mod.ts";
import { freePort, javaHome, PROJECT_ROOT, RESULTS_DIR, venvPython } from "../../testing/server.ts";
import { launcherPath } from "../../src/server/launcher.ts";
import { rejectsWithin } from "../session/util.ts";
import { assertMatchesSnapshot, nextUpdates, within } from "./_util.ts";

const SCRIPT = `from deephaven import time_table
t = time_table("PT0.1s").update(["X = ii"])
`;

interface Pki {
  dir: string;
  ca: string;
  otherCa: string;
  clientCert: string;
  clientKey: string;
  otherClientCert: string;
  otherClientKey: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** A CA and a certificate signed by it, in `dir`. */
async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "dh-tls-" });
  const key = (name: string) => ["-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`];
  const ca = async (name: string) =>
    await openssl(
      dir,
      "req",
      "-x509",
      ...key(name),
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    );
  const leaf = async (name: string, signer: string, cn: string, ext: string) => {
    await openssl(dir, "req", ...key(name), "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${signer}.crt`,
      "-CAkey",
      `${signer}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
  };
  await ca("test-ca");
  await ca("other-ca");
  await leaf(
    "server",
    "test-ca",
    "localhost",
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await leaf("client", "test-ca", "dh-test-client", "extendedKeyUsage=clientAuth\n");
  await leaf("other-client", "other-ca", "dh-other-client", "extendedKeyUsage=clientAuth\n");
  const read = (f: string) => Deno.readTextFileSync(`${dir}/${f}`);
  return {
    dir,
    ca: read("test-ca.crt"),
    otherCa: read("other-ca.crt"),
    clientCert: read("client.crt"),
    clientKey: read("client.key"),
    otherClientCert: read("other-client.crt"),
    otherClientKey: read("other-client.key"),
  };
}

interface TlsServer {
  port: number;
  logPath: string;
  stop(): Promise<void>;
}

/** Starts the embedded server's launcher with TLS properties and waits for its READY line. */
async function startTlsServer(pki: Pki, name: string, jvmArgs: string[]): Promise<TlsServer> {
  const port = freePort();
  await Deno.mkdir(RESULTS_DIR, { recursive: true });
  const logPath = `${RESULTS_DIR}/${name}-${port}.log`;
  const scriptPath = `${pki.dir}/${name}.py`;
  await Deno.writeTextFile(scriptPath, SCRIPT);
  const args = [await launcherPath(), "--host", "127.0.0.1", "--port", String(port)];
  args.push("--auth", "anonymous", "--script", scriptPath);
  for (
    const a of [
      "-Xmx1g",
      "-Dssl.identity.type=privatekey",
      `-Dssl.identity.certChainPath=${pki.dir}/server.crt`,
      `-Dssl.identity.privateKeyPath=${pki.dir}/server.key`,
      ...jvmArgs,
    ]
  ) args.push(`--jvm-arg=${a}`);
  const env: Record<string, string> = { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" };
  const jh = javaHome();
  if (jh) env.JAVA_HOME = jh;
  const child = new Deno.Command(venvPython(), {
    args,
    env,
    cwd: PROJECT_ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const log = await Deno.open(logPath, { write: true, create: true, truncate: true });
  let ready!: () => void;
  const readySeen = new Promise<void>((r) => (ready = r));
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, watch: boolean) => {
    let partial = "";
    for await (const chunk of stream) {
      await log.write(chunk).catch(() => {});
      if (!watch) continue;
      partial += decoder.decode(chunk, { stream: true });
      if (/^READY \d+$/m.test(partial)) ready();
      partial = partial.slice(-64);
    }
  };
  const pumps = Promise.all([pump(child.stdout, true), pump(child.stderr, false)]);
  const exited = child.status;
  const outcome = await within(
    Promise.race([readySeen.then(() => "ready"), exited.then((s) => `exited with ${s.code}`)]),
    180_000,
    `the TLS server ${name} starting`,
  ).catch((e) => (e as Error).message);
  const stop = async () => {
    await stdin.close().catch(() => {});
    const t = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 10_000);
    await exited;
    clearTimeout(t);
    await pumps.catch(() => {});
    log.close();
  };
  if (outcome !== "ready") {
    await stop();
    throw new Error(`The TLS server ${name} did not start (${outcome}); see ${logPath}`);
  }
  return { port, logPath, stop };
}

let setUp: Promise<{ pki: Pki; tls: TlsServer; mtls: TlsServer }> | undefined;

/** The certificates and both servers, made once for this file (the servers start side by side). */
function servers(): Promise<{ pki: Pki; tls: TlsServer; mtls: TlsServer }> {
  setUp ??= (async () => {
    const pki = await makePki();
    const [tls, mtls] = await Promise.all([
      startTlsServer(pki, "tls", []),
      startTlsServer(pki, "mtls", [
        "-Dssl.clientAuthentication=NEEDED",
        "-Dssl.trust.type=certs",
        `-Dssl.trust.path=${pki.dir}/test-ca.crt`,
      ]),
    ]);
    return { pki, tls, mtls };
  })();
  return setUp;
}

const options = { sanitizeOps: false, sanitizeResources: false };
const connect = (o: ConnectOptions) => Session.connect({ useTls: true, connectTimeoutMs: 20_000, ...o });

Deno.test({
  name: "TLS: a table operation and a subscription with the CA as root certificate, by name and by IP",
  ...options,
  async fn() {
    const { pki, tls } = await servers();
    for (const host of ["localhost", "127.0.0.1"]) {
      const session = await connect({ host, port: tls.port, tlsRootCerts: pki.ca });
      const bs = await barrageSession({ host, port: tls.port, useTls: true, tlsRootCerts: pki.ca });
      try {
        assert.equal(session.useTls, true);
        const a = await session.emptyTable(10).update(["X = i * 3"]).toArrow();
        assert.deepEqual(Array.from(a.getChild("X")!.toArray() as Int32Array), [
          0,
          3,
          6,
          9,
          12,
          15,
          18,
          21,
          24,
          27,
        ]);
        const ref = session.openTable("t");
        const live = await bs.subscribe(ref);
        await nextUpdates(live, 2, 15_000);
        assertMatchesSnapshot(`TLS via ${host}`, live, await ref.toArrow(), "prefix");
        live.close();
      } finally {
        await bs.close();
        await session.close();
      }
    }
  },
});

Deno.test({
  name: "TLS: a wrong CA, no CA (verification is on by default) and plaintext are refused",
  ...options,
  async fn() {
    const { pki, tls } = await servers();
    const port = tls.port;
    const certificate = /certificate|verify/i;
    const wrong = await rejectsWithin(
      () => connect({ host: "localhost", port, tlsRootCerts: pki.otherCa }),
      "connecting with another CA as root",
      { code: GrpcCode.UNAVAILABLE, message: [certificate] },
    );
    const none = await rejectsWithin(
      () => connect({ host: "localhost", port }),
      "connecting with the system roots only",
      { code: GrpcCode.UNAVAILABLE, message: [certificate] },
    );
    const plain = await rejectsWithin(
      () => Session.connect({ host: "localhost", port, connectTimeoutMs: 10_000 }),
      "connecting without TLS to a TLS server",
      { code: GrpcCode.UNAVAILABLE },
    );
    for (const e of [wrong, none, plain]) console.log(`TLS refused: ${e.codeName}: ${e.message}`);
    for (const e of [wrong, none]) assert.match(e.message, /tlsRootCerts/, "the message says what to check");
  },
});

Deno.test({
  name: "mTLS: a client certificate signed by the CA is accepted; none, or another CA's, is refused",
  ...options,
  async fn() {
    const { pki, mtls } = await servers();
    const port = mtls.port;
    const session = await connect({
      host: "localhost",
      port,
      tlsRootCerts: pki.ca,
      clientCertChain: pki.clientCert,
      clientPrivateKey: pki.clientKey,
    });
    try {
      const a = await session.emptyTable(4).update(["Y = i + 1"]).toArrow();
      assert.deepEqual(Array.from(a.getChild("Y")!.toArray() as Int32Array), [1, 2, 3, 4]);
    } finally {
      await session.close();
    }
    const none = await rejectsWithin(
      () => connect({ host: "localhost", port, tlsRootCerts: pki.ca, reconnect: false }),
      "connecting without a client certificate",
      { code: GrpcCode.UNAVAILABLE },
    );
    const other = await rejectsWithin(
      () =>
        connect({
          host: "localhost",
          port,
          tlsRootCerts: pki.ca,
          clientCertChain: pki.otherClientCert,
          clientPrivateKey: pki.otherClientKey,
          reconnect: false,
        }),
      "connecting with a client certificate from another CA",
      { code: GrpcCode.UNAVAILABLE },
    );
    // With TLS 1.3 the client finishes its side of the handshake before the server refuses it, so the client
    // sees either the server's alert (BadCertificate, CertificateUnknown) or only the closed connection
    // (EPIPE): the message names the certificate only in the first case.
    for (const e of [none, other]) console.log(`mTLS refused: ${e.codeName}: ${e.message}`);
  },
});

Deno.test({
  name: "TLS: resolveUri('dh://localhost:PORT/scope/t') subscribes over TLS (and with a client certificate)",
  ...options,
  async fn() {
    const { pki, tls, mtls } = await servers();
    const live = await resolveUri(`dh://localhost:${tls.port}/scope/t`, { tlsRootCerts: pki.ca });
    await nextUpdates(live, 2, 15_000);
    assert.equal(live.state, "live");
    assert.ok(live.size > 0);
    live.close();
    const viaMtls = await resolveUri(`dh://localhost:${mtls.port}/scope/t`, {
      tlsRootCerts: pki.ca,
      clientCertChain: pki.clientCert,
      clientPrivateKey: pki.clientKey,
      snapshot: true,
    });
    assert.equal(viaMtls.state, "snapshot");
    assert.ok(viaMtls.size > 0);
    // resolveUri leaves its (cached) Barrage sessions open; close them.
    await (await barrageSession({ host: "localhost", port: tls.port, useTls: true, tlsRootCerts: pki.ca }))
      .close();
    await (await barrageSession({
      host: "localhost",
      port: mtls.port,
      useTls: true,
      tlsRootCerts: pki.ca,
      clientCertChain: pki.clientCert,
      clientPrivateKey: pki.clientKey,
    })).close();
  },
});

Deno.test({
  name: "TLS: stop the TLS servers",
  ...options,
  async fn() {
    if (!setUp) return;
    const { pki, tls, mtls } = await setUp;
    await Promise.all([tls.stop(), mtls.stop()]);
    await Deno.remove(pki.dir, { recursive: true });
  },
});
