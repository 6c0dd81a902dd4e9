/**
 * Authentication: the `authorization` header of the first call, and the
 * Bearer token the server hands back (and rotates) on every response.
 *
 * @module
 */

import { DeephavenError } from "../errors.ts";

import { registerSecret } from "../transport/redact.ts";

/** The PSK handler's auth type string. */
export const PSK_AUTH = "io.deephaven.authentication.psk.PskAuthenticationHandler";

/**
 * How to log in: `"Anonymous"`, `"Basic"` (token `"user:password"`), the PSK
 * handler `"io.deephaven.authentication.psk.PskAuthenticationHandler"`, or the
 * auth type string of any other server-side handler.
 */
export type AuthType =
  | "Anonymous"
  | "Basic"
  | "io.deephaven.authentication.psk.PskAuthenticationHandler"
  | (string & Record<never, never>);

function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * The `authorization` header value that logs in with the given auth type and
 * token, exactly as pydeephaven sends it.
 *
 * @example Usage
 * ```ts
 * import { loginHeader } from "./auth.ts";
 *
 * console.assert(loginHeader("Anonymous", "") === "Anonymous");
 * console.assert(loginHeader("Basic", "user:pw") === "Basic dXNlcjpwdw==");
 * ```
 *
 * @param authType The auth type.
 * @param authToken The token (`"user:password"` for Basic, the key for PSK).
 * @returns The header value.
 */
export function loginHeader(authType: AuthType, authToken: string): string {
  if (authType === "Anonymous") return "Anonymous";
  if (authType === "Basic") {
    if (!authToken.includes(":")) {
      throw DeephavenError.invalid("Basic auth needs a token of the form 'user:password'");
    }
    return `Basic ${base64Utf8(authToken)}`;
  }
  return authToken ? `${authType} ${authToken}` : authType;
}

/**
 * Holds the credentials of one session: the login header until the server
 * answers, then the newest Bearer token seen on any response. Secrets are
 * registered for redaction and never exposed by `inspect` or `toString`.
 */
export class AuthState {
  readonly #login: string;
  #bearer: string | undefined;
  #tokenListeners: Array<() => void> = [];

  /**
   * @param authType The auth type.
   * @param authToken The token, if the auth type takes one.
   */
  constructor(authType: AuthType, authToken: string) {
    registerSecret(authToken);
    if (authType === "Basic") {
      const i = authToken.indexOf(":");
      if (i >= 0) registerSecret(authToken.slice(i + 1));
    }
    this.#login = loginHeader(authType, authToken);
    registerSecret(this.#login);
  }

  /** The header value to send now. */
  header(): string {
    return this.#bearer ?? this.#login;
  }

  /** Whether a Bearer token has been received. */
  get authenticated(): boolean {
    return this.#bearer !== undefined;
  }

  /** Forgets the Bearer token, so the next call logs in again with the original credentials. */
  reset(): void {
    this.#bearer = undefined;
  }

  /** Calls `cb` whenever a new token arrives; returns a function that stops it. */
  onToken(cb: () => void): () => void {
    this.#tokenListeners.push(cb);
    return () => {
      this.#tokenListeners = this.#tokenListeners.filter((x) => x !== cb);
    };
  }

  /** Takes a rotated token from response headers, if they carry one. */
  observe(headers: Record<string, string>): void {
    const v = headers["authorization"];
    if (v && v.startsWith("Bearer ") && v !== this.#bearer) {
      registerSecret(v.slice(7));
      this.#bearer = v;
      for (const cb of this.#tokenListeners) cb();
    }
  }

  /** A description without secrets. */
  toString(): string {
    return `AuthState(${this.authenticated ? "authenticated" : "not logged in"})`;
  }

  /** Hides secrets from `Deno.inspect` and `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
