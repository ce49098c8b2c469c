/**
 * A persistent sorted map: an AVL tree that is never changed in place. An update copies
 * only the path from the root to the entry it changes (O(log n) nodes) and shares every
 * other node with the map it came from, which stays valid and unchanged. So a state that
 * holds one can be evolved twice from the same version (a decision, then the command
 * executor's own fold of its events) without copying the whole map, and stays pure.
 * The order is the caller's `compare`, which must be a total order on the keys.
 */
export type SortedMap<K, V> = MapNode<K, V> | undefined;

type MapNode<K, V> = Readonly<{
  key: K;
  value: V;
  left: SortedMap<K, V>;
  right: SortedMap<K, V>;
  height: number;
}>;

export type Compare<K> = (a: K, b: K) => number;

export function mapGet<K, V>(map: SortedMap<K, V>, key: K, compare: Compare<K>): V | undefined {
  let node = map;
  while (node !== undefined) {
    const order = compare(key, node.key);
    if (order === 0) return node.value;
    node = order < 0 ? node.left : node.right;
  }
  return undefined;
}

/** The map with `key` set to `value`, added or replaced. */
export function mapSet<K, V>(map: SortedMap<K, V>, key: K, value: V, compare: Compare<K>): MapNode<K, V> {
  if (map === undefined) return node(key, value, undefined, undefined);
  const order = compare(key, map.key);
  if (order < 0) return balanced(map.key, map.value, mapSet(map.left, key, value, compare), map.right);
  if (order > 0) return balanced(map.key, map.value, map.left, mapSet(map.right, key, value, compare));
  return node(key, value, map.left, map.right);
}

/** The map without `key` (the same map if it has none). */
export function mapDelete<K, V>(map: SortedMap<K, V>, key: K, compare: Compare<K>): SortedMap<K, V> {
  if (map === undefined) return undefined;
  const order = compare(key, map.key);
  if (order < 0) {
    const left = mapDelete(map.left, key, compare);
    return left === map.left ? map : balanced(map.key, map.value, left, map.right);
  }
  if (order > 0) {
    const right = mapDelete(map.right, key, compare);
    return right === map.right ? map : balanced(map.key, map.value, map.left, right);
  }
  if (map.left === undefined) return map.right;
  if (map.right === undefined) return map.left;
  const first = firstOf(map.right);
  return balanced(first.key, first.value, map.left, withoutFirst(map.right));
}

/** The values in key order; stopping early costs only what was visited (O(log n + visited)). */
export function* mapValues<K, V>(map: SortedMap<K, V>): Generator<V, void, undefined> {
  const path: MapNode<K, V>[] = [];
  let node = map;
  for (;;) {
    while (node !== undefined) {
      path.push(node);
      node = node.left;
    }
    const next = path.pop();
    if (next === undefined) return;
    yield next.value;
    node = next.right;
  }
}

const heightOf = <K, V>(map: SortedMap<K, V>): number => (map === undefined ? 0 : map.height);

function node<K, V>(key: K, value: V, left: SortedMap<K, V>, right: SortedMap<K, V>): MapNode<K, V> {
  return { key, value, left, right, height: Math.max(heightOf(left), heightOf(right)) + 1 };
}

/** A node over two subtrees whose heights differ by at most 2 (one insert or delete below), rotated into balance. */
function balanced<K, V>(key: K, value: V, left: SortedMap<K, V>, right: SortedMap<K, V>): MapNode<K, V> {
  const leftHeight = heightOf(left);
  const rightHeight = heightOf(right);
  if (leftHeight > rightHeight + 1) {
    const l = left!;
    if (heightOf(l.left) >= heightOf(l.right)) return node(l.key, l.value, l.left, node(key, value, l.right, right));
    const lr = l.right!;
    return node(lr.key, lr.value, node(l.key, l.value, l.left, lr.left), node(key, value, lr.right, right));
  }
  if (rightHeight > leftHeight + 1) {
    const r = right!;
    if (heightOf(r.right) >= heightOf(r.left)) return node(r.key, r.value, node(key, value, left, r.left), r.right);
    const rl = r.left!;
    return node(rl.key, rl.value, node(key, value, left, rl.left), node(r.key, r.value, rl.right, r.right));
  }
  return node(key, value, left, right);
}

function firstOf<K, V>(map: MapNode<K, V>): MapNode<K, V> {
  let node = map;
  while (node.left !== undefined) node = node.left;
  return node;
}

function withoutFirst<K, V>(map: MapNode<K, V>): SortedMap<K, V> {
  if (map.left === undefined) return map.right;
  return balanced(map.key, map.value, withoutFirst(map.left), map.right);
}
