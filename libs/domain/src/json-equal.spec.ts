import { jsonEqual } from './json-equal.js';

describe('jsonEqual', () => {
  it('ignores key order and keys holding undefined', () => {
    expect(jsonEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1, d: undefined })).toBe(true);
  });

  it('tells apart different values, lengths, nesting and arrays from objects', () => {
    expect(jsonEqual({ a: 1 }, { a: 2 })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 0 })).toBe(false);
    expect(jsonEqual([1, 2], [1, 2, 3])).toBe(false);
    expect(jsonEqual({ 0: 'x' }, ['x'])).toBe(false);
    expect(jsonEqual({ a: { b: 1 } }, { a: { b: '1' } })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});
