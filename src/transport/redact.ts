/**
 * Keeps secrets out of every message the module prints or throws.
 *
 * Tokens, passwords and pre-shared keys are registered when a session is
 * created; {@linkcode redact} replaces each registered secret (and its base64
 * form, as sent in Basic auth) with `***`.
 *
 * @module
 */

const secrets = new Set<string>();

/** The text that stands in for a secret. */
export const REDACTED = "***";

/**
 * Registers a secret so that {@linkcode redact} hides it. Secrets shorter than
 * 4 characters are ignored (they would hide ordinary text).
 *
 * @param secret The secret text.
 */
export function registerSecret(secret: string | undefined): void {
  if (!secret || secret.length < 4) return;
  secrets.add(secret);
  try {
    secrets.add(btoa(secret));
  } catch {
    // Not Latin-1: no base64 form to hide.
  }
}

/**
 * Replaces every registered secret in `text` with `***`.
 *
 * @param text Any text that may contain a secret.
 * @returns The text with secrets hidden.
 */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
  }
  // Bearer tokens are session UUIDs; hide any that reach a message.
  return out.replace(/Bearer\s+[0-9a-fA-F-]{16,}/g, `Bearer ${REDACTED}`);
}
