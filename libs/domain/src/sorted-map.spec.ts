import fc from 'fast-check';
import { mapDelete, mapGet, mapSet, mapValues, type SortedMap } from './sorted-map.js';

const byNumber = (a: number, b: number) => a - b;

type Op = { set: number; value: string } | { delete: number };

/** Every version a sequence of operations made, next to a plain sorted list of entries (the model). */
function versions(ops: readonly Op[]) {
  let map: SortedMap<number, string> = undefined;
  let model: [number, string][] = [];
  const made: { map: SortedMap<number, string>; model: [number, string][] }[] = [{ map, model }];
  for (const op of ops) {
    if ('set' in op) {
      map = mapSet(map, op.set, op.value, byNumber);
      model = [...model.filter(([key]) => key !== op.set), [op.set, op.value] as [number, string]].sort(
        ([a], [b]) => a - b,
      );
    } else {
      map = mapDelete(map, op.delete, byNumber);
      model = model.filter(([key]) => key !== op.delete);
    }
    made.push({ map, model });
  }
  return made;
}

/** The height of an AVL tree, every node of which is balanced with its height right; -1 if one is not. */
function balancedHeight(map: SortedMap<number, string>): number {
  if (map === undefined) return 0;
  const left = balancedHeight(map.left);
  const right = balancedHeight(map.right);
  const ok = left >= 0 && right >= 0 && Math.abs(left - right) <= 1 && map.height === Math.max(left, right) + 1;
  return ok ? map.height : -1;
}

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ set: fc.integer({ min: 0, max: 30 }), value: fc.string({ maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ delete: fc.integer({ min: 0, max: 30 }) }) },
);

describe('SortedMap (persistent AVL)', () => {
  it('holds what a sorted list holds after any sets and deletes, balanced, and every earlier version unchanged', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
        const made = versions(ops);
        // Checked only once all are made: a later update must not have changed an earlier version.
        for (const { map, model } of made) {
          const keys = Array.from({ length: 33 }, (_, i) => i - 1);
          expect({
            values: [...mapValues(map)],
            gets: keys.map((key) => mapGet(map, key, byNumber)),
            balanced: balancedHeight(map) >= 0,
          }).toEqual({
            values: model.map(([, value]) => value),
            gets: keys.map((key) => model.find(([k]) => k === key)?.[1]),
            balanced: true,
          });
        }
      }),
      { numRuns: 200 },
    );
  });

  it('stays logarithmic in height for keys in order (the worst case of an unbalanced tree)', () => {
    let map: SortedMap<number, string> = undefined;
    for (let key = 0; key < 10_000; key++) map = mapSet(map, key, String(key), byNumber);
    expect(balancedHeight(map)).toBeGreaterThan(0);
    expect(balancedHeight(map)).toBeLessThanOrEqual(Math.ceil(1.45 * Math.log2(10_002)));
    for (let key = 0; key < 10_000; key += 2) map = mapDelete(map, key, byNumber);
    expect(balancedHeight(map)).toBeGreaterThan(0);
    expect(balancedHeight(map)).toBeLessThanOrEqual(Math.ceil(1.45 * Math.log2(5_002)));
    expect([...mapValues(map)].slice(0, 3)).toEqual(['1', '3', '5']);
  });

  it('stops a walk early without visiting the rest', () => {
    let map: SortedMap<number, string> = undefined;
    for (const key of [5, 1, 9, 3, 7]) map = mapSet(map, key, String(key), byNumber);
    const seen: string[] = [];
    for (const value of mapValues(map)) {
      seen.push(value);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['1', '3']);
  });

  it('leaves the map as it was when a delete names a key it does not hold', () => {
    const map = mapSet(mapSet(undefined, 1, 'a', byNumber), 2, 'b', byNumber);
    expect(mapDelete(map, 3, byNumber)).toBe(map);
  });
});
