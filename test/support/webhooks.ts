import { createHmac } from 'node:crypto';

/** The `X-Signature` a provider sends: HMAC-SHA256 of "<t>.<raw body>" in hex, computed here independently. */
export function providerSignature(secret: string, rawBody: string, atSeconds: number): string {
  const digest = createHmac('sha256', secret).update(`${atSeconds}.${rawBody}`).digest('hex');
  return `t=${atSeconds},v1=${digest}`;
}
