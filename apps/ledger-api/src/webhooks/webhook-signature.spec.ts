import { createHmac } from 'node:crypto';
import { SIGNATURE_TOLERANCE_SECONDS, signatureRefusal } from './webhook-signature.js';

const NOW = new Date(Date.UTC(2030, 0, 1));
const T = NOW.getTime() / 1000;
const SECRET = 'whsec_current';
const body = Buffer.from('{"taskId":"task-1", "status":"succeeded"}');

/** Signed the way API.md tells a provider to, independently of the code under test. */
function sign(secret: string, t: number, raw: Buffer = body): string {
  return createHmac('sha256', secret)
    .update(`${t}.${raw.toString('utf8')}`)
    .digest('hex');
}

describe('webhook signatures', () => {
  it('accepts the digest of "<t>.<raw body>" with a secret of the provider', () => {
    expect(signatureRefusal(`t=${T},v1=${sign(SECRET, T)}`, body, [SECRET], NOW)).toBeUndefined();
    expect(signatureRefusal(` t=${T} , v1=${sign(SECRET, T).toUpperCase()} `, body, [SECRET], NOW)).toBeUndefined();
  });

  it('accepts any of the secrets while the provider rotates, and any of several digests', () => {
    const header = `t=${T},v1=${sign('whsec_old', T)}`;
    expect(signatureRefusal(header, body, ['whsec_old', SECRET], NOW)).toBeUndefined();
    const both = `t=${T},v1=${sign('whsec_unknown', T)},v1=${sign(SECRET, T)},v0=ignored`;
    expect(signatureRefusal(both, body, [SECRET], NOW)).toBeUndefined();
  });

  it('accepts a timestamp up to the tolerance away, either way, and refuses one second more', () => {
    for (const skew of [-SIGNATURE_TOLERANCE_SECONDS, SIGNATURE_TOLERANCE_SECONDS]) {
      expect(signatureRefusal(`t=${T + skew},v1=${sign(SECRET, T + skew)}`, body, [SECRET], NOW)).toBeUndefined();
    }
    for (const skew of [-SIGNATURE_TOLERANCE_SECONDS - 1, SIGNATURE_TOLERANCE_SECONDS + 1]) {
      expect(signatureRefusal(`t=${T + skew},v1=${sign(SECRET, T + skew)}`, body, [SECRET], NOW)).toMatch(/timestamp/);
    }
  });

  it('refuses a body changed by one byte, another secret, and a digest of another timestamp', () => {
    const changed = Buffer.from(body);
    changed[changed.length - 2] = changed[changed.length - 2]! ^ 1;
    expect(signatureRefusal(`t=${T},v1=${sign(SECRET, T)}`, changed, [SECRET], NOW)).toBe(
      'the signature does not match',
    );
    expect(signatureRefusal(`t=${T},v1=${sign('whsec_wrong', T)}`, body, [SECRET], NOW)).toBe(
      'the signature does not match',
    );
    expect(signatureRefusal(`t=${T},v1=${sign(SECRET, T - 1)}`, body, [SECRET], NOW)).toBe(
      'the signature does not match',
    );
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['no timestamp', `v1=${sign(SECRET, T)}`],
    ['no digest', `t=${T}`],
    ['two timestamps', `t=${T},t=${T},v1=${sign(SECRET, T)}`],
    ['a timestamp that is not a number', `t=soon,v1=${sign(SECRET, T)}`],
    ['a short digest', `t=${T},v1=${sign(SECRET, T).slice(2)}`],
    ['a digest that is not hex', `t=${T},v1=${'z'.repeat(64)}`],
    ['a part without a key', `t=${T},=${sign(SECRET, T)}`],
    ['too many digests', `t=${T}${`,v1=${sign(SECRET, T)}`.repeat(9)}`],
    ['a header past its length bound', `t=${T},v1=${sign(SECRET, T)},x=${'a'.repeat(1024)}`],
  ])('refuses %s as malformed', (_, header) => {
    expect(signatureRefusal(header, body, [SECRET], NOW)).toBe('the X-Signature header is missing or malformed');
  });

  it('refuses everything when the provider has no secret', () => {
    expect(signatureRefusal(`t=${T},v1=${sign(SECRET, T)}`, body, [], NOW)).toBe('the signature does not match');
  });
});
