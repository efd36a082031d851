/**
 * Hex helpers for the SCMI tests: golden request and response bytes are typed by hand as hex
 * text (scmi-virtio.md §5/§6) and compared in one canonical form.
 */

/** Bytes from hex text; whitespace and `|` separators are ignored. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s|]+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex: ${text}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Canonical hex form: lowercase bytes separated by single spaces. */
export function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Canonical form of hand-typed hex text (for comparisons with `toHex`). */
export function norm(text: string): string {
  return toHex(hex(text));
}
