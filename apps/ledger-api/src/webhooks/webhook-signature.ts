import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far the signed timestamp may be from the service clock, either way (API.md). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export const SIGNATURE_HEADER = 'x-signature';

// A header is a few fields; bound what is parsed, whoever sent it.
const SIGNATURE_HEADER_LENGTH_MAX = 1024;
const SIGNATURES_MAX = 8;
// Canonical decimal only (no leading zeros): the HMAC covers the number as text.
const TIMESTAMP_TEXT = /^(0|[1-9]\d{0,11})$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

interface ParsedSignature {
  timestampSeconds: number;
  /** Every `v1=` value: a provider rotating its secret may sign with both. */
  digests: Buffer[];
}

/**
 * Why a delivery is refused, or undefined when it is authentic: the header
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` must carry a
 * timestamp within SIGNATURE_TOLERANCE_SECONDS of `now` and a digest that one
 * of the provider's secrets (several while it rotates them) computes over the
 * body's bytes exactly as received. Digests are compared in constant time, and
 * every secret against every digest, so the timing tells nothing of which
 * came close.
 */
export function signatureRefusal(
  header: string | undefined,
  rawBody: Buffer,
  secrets: readonly string[],
  now: Date,
): string | undefined {
  const parsed = header === undefined ? undefined : parseSignature(header);
  if (!parsed) return 'the X-Signature header is missing or malformed';
  const skewMs = Math.abs(now.getTime() - parsed.timestampSeconds * 1000);
  if (skewMs > SIGNATURE_TOLERANCE_SECONDS * 1000) {
    return `the signature's timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS} s from the service clock`;
  }
  let matched = false;
  for (const secret of secrets) {
    const expected = signatureDigest(secret, parsed.timestampSeconds, rawBody);
    for (const digest of parsed.digests) {
      if (timingSafeEqual(expected, digest)) matched = true;
    }
  }
  return matched ? undefined : 'the signature does not match';
}

/** HMAC-SHA256 of `"<t>.<raw body>"`: what a provider computes, and what a test signs with. */
export function signatureDigest(secret: string, timestampSeconds: number, rawBody: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`, 'utf8').update(rawBody).digest();
}

function parseSignature(header: string): ParsedSignature | undefined {
  if (header.length > SIGNATURE_HEADER_LENGTH_MAX) return undefined;
  let timestampSeconds: number | undefined;
  const digests: Buffer[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (separator <= 0) return undefined;
    if (key === 't') {
      if (timestampSeconds !== undefined || !TIMESTAMP_TEXT.test(value)) return undefined;
      timestampSeconds = Number(value);
    } else if (key === 'v1') {
      // Only well-formed digests: timingSafeEqual needs equal lengths, and a length is no secret.
      if (!SHA256_HEX.test(value) || digests.length === SIGNATURES_MAX) return undefined;
      digests.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, ...) are ignored, as their senders intend.
  }
  return timestampSeconds === undefined || digests.length === 0 ? undefined : { timestampSeconds, digests };
}
