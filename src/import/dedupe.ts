/**
 * Duplicate removal. Pure.
 *
 * Exact: two inputs are the same when equal after normalisation (NFKC, case folding, every run of
 * whitespace one space, trimmed). Near: Jaccard similarity of the sets of character k-shingles
 * (k consecutive characters of the normalised text, default 5) at or above a threshold (default
 * 0.9). In both, the first occurrence is kept and each later one is removed, naming the kept one.
 *
 * Near duplicates are found exactly, without MinHash's misses: an all-pairs similarity join with
 * prefix filtering (Bayardo et al. 2007; Xiao et al. 2008). Each shingle set is ordered rarest
 * shingle first; two sets with Jaccard ≥ t must share a shingle within the first
 * |x| − ⌈t·|x|⌉ + 1 of each, so only items sharing such a prefix shingle (and of compatible size,
 * t·|x| ≤ |y| ≤ |x|/t) are compared.
 */

export function normaliseText(text: string): string {
  // Upper then lower folds more pairs than lower alone ("ß" and "SS" both become "ss").
  return text.normalize("NFKC").toUpperCase().toLowerCase().replace(/\s+/gu, " ").trim();
}

export interface ExactDuplicate {
  /** Index (in the list given) of the removed item and of the first occurrence kept. */
  index: number;
  keptIndex: number;
}

/** Keeps the first of each normalised key. */
export function exactDuplicates(keys: readonly string[]): { kept: number[]; removed: ExactDuplicate[] } {
  const first = new Map<string, number>();
  const kept: number[] = [];
  const removed: ExactDuplicate[] = [];
  keys.forEach((key, index) => {
    const at = first.get(key);
    if (at === undefined) {
      first.set(key, index);
      kept.push(index);
    } else removed.push({ index, keptIndex: at });
  });
  return { kept, removed };
}

/** The set of k-character shingles of a text (the text itself when shorter than k; empty for ""). */
export function shingles(text: string, k = 5): Set<string> {
  const out = new Set<string>();
  if (text.length === 0) return out;
  if (text.length <= k) {
    out.add(text);
    return out;
  }
  for (let i = 0; i + k <= text.length; i++) out.add(text.slice(i, i + k));
  return out;
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let common = 0;
  for (const s of small) if (large.has(s)) common++;
  return common / (a.size + b.size - common);
}

/** Jaccard similarity of the k-shingle sets of two texts, each normalised first. */
export function shingleSimilarity(a: string, b: string, k = 5): number {
  return jaccard(shingles(normaliseText(a), k), shingles(normaliseText(b), k));
}

export interface NearDuplicate {
  index: number;
  keptIndex: number;
  similarity: number;
}

/** Tolerance for the size bounds, so that t·|x| computed in floating point never excludes a true pair. */
const EPS = 1e-9;

/**
 * Shared prefix tokens required of a candidate pair. A pair with Jaccard ≥ t shares at least
 * α ≥ ⌈t·max(|x|,|y|)⌉ shingles; the first c of them (rarest first) lie within the first
 * |x| − ⌈t·|x|⌉ + c shingles of x and likewise of y, so requiring min(c, ⌈t·max⌉) shared prefix
 * shingles loses no pair (the "ℓ-prefix" scheme of Wang, Li and Feng 2012) and prunes far more
 * than one shared shingle does when every shingle is common (digits, a small alphabet).
 */
const PREFIX_OVERLAP = 3;

/**
 * Greedy near-duplicate removal over texts already normalised, in order: an item is removed when
 * some earlier kept item has similarity ≥ threshold (the most similar one is named; ties: the
 * earliest), otherwise it is kept.
 */
export function nearDuplicates(texts: readonly string[], threshold = 0.9, k = 5): { kept: number[]; removed: NearDuplicate[] } {
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`the near-duplicate threshold must be in (0, 1], got ${threshold}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`the shingle size must be a whole number ≥ 1, got ${k}`);
  // Each set as shingle ids numbered rarest first (ties by first appearance), sorted ascending:
  // the prefix of a set is then its first elements, and merging two sets compares them in order.
  const { sets, ids } = rankedShingleSets(texts, k);
  const atLeast = (x: number): number => Math.ceil(x - EPS);
  const prefixLength = (size: number): number => Math.min(size, size - atLeast(threshold * size) + PREFIX_OVERLAP);

  // Postings: for each shingle id, the kept items whose prefix holds it.
  const index: (number[] | undefined)[] = new Array<number[] | undefined>(ids);
  const kept: number[] = [];
  const removed: NearDuplicate[] = [];
  const shared = new Int32Array(texts.length);
  const touched: number[] = [];
  sets.forEach((set, i) => {
    const size = set.length;
    const prefix = prefixLength(size);
    const minSize = threshold * size - EPS;
    const maxSize = size / threshold + EPS;
    touched.length = 0;
    for (let p = 0; p < prefix; p++) {
      const postings = index[set[p] as number];
      if (!postings) continue;
      for (const j of postings) {
        const other = (sets[j] as Int32Array).length;
        if (other < minSize || other > maxSize) continue;
        if (shared[j] === 0) touched.push(j);
        shared[j] = (shared[j] as number) + 1;
      }
    }
    let best: NearDuplicate | undefined;
    for (const j of touched) {
      const count = shared[j] as number;
      shared[j] = 0;
      const other = sets[j] as Int32Array;
      if (count < Math.min(PREFIX_OVERLAP, atLeast(threshold * Math.max(size, other.length)))) continue;
      const sim = jaccardAtLeast(set, other, threshold);
      if (sim !== undefined && (!best || sim > best.similarity || (sim === best.similarity && j < best.keptIndex))) best = { index: i, keptIndex: j, similarity: sim };
    }
    if (best) {
      removed.push(best);
      return;
    }
    kept.push(i);
    for (let p = 0; p < prefix; p++) {
      const id = set[p] as number;
      const postings = index[id];
      if (postings) postings.push(i);
      else index[id] = [i];
    }
  });
  return { kept, removed };
}

/**
 * The k-shingle sets of many texts as integer ids, renumbered by document frequency (rarest = 0).
 * Shingles are keyed without making substrings: each UTF-16 unit gets a small code, and a shingle
 * of k codes of b bits is the number Σ code·2^(b·i), exact while b·k ≤ 52 (up to 1,023 distinct
 * characters at k = 5); beyond that, substrings are used.
 */
function rankedShingleSets(texts: readonly string[], k: number): { sets: Int32Array[]; ids: number } {
  const codes = new Int32Array(65536);
  let alphabet = 0;
  for (const t of texts) for (let i = 0; i < t.length; i++) if (codes[t.charCodeAt(i)] === 0) codes[t.charCodeAt(i)] = ++alphabet;
  const bits = Math.max(1, Math.ceil(Math.log2(alphabet + 1)));
  const numeric = bits * k <= 52;
  const table = new IdTable();
  const strings = new Map<string, number>();
  const scale = 2 ** bits;
  const top = 2 ** (bits * (k - 1));
  const raw: Int32Array[] = texts.map((t) => {
    let arr: Int32Array;
    let n = 0;
    if (!numeric) {
      const set = shingles(t, k);
      arr = new Int32Array(set.size);
      for (const sh of set) {
        let id = strings.get(sh);
        if (id === undefined) {
          id = strings.size;
          strings.set(sh, id);
        }
        arr[n++] = id;
      }
    } else if (t.length <= k) {
      arr = new Int32Array(1);
      let key = 0;
      for (let i = 0; i < t.length; i++) key = key * scale + (codes[t.charCodeAt(i)] as number);
      if (t.length > 0) arr[n++] = table.id(key);
    } else {
      arr = new Int32Array(t.length - k + 1);
      let key = 0;
      for (let i = 0; i < t.length; i++) {
        // Drop the oldest code, shift, add the newest: the key of t[i-k+1 .. i] (exact integer arithmetic).
        if (i >= k) key -= (codes[t.charCodeAt(i - k)] as number) * top;
        key = key * scale + (codes[t.charCodeAt(i)] as number);
        if (i >= k - 1) arr[n++] = table.id(key);
      }
    }
    arr = arr.subarray(0, n).sort();
    // Unique (a shingle can occur several times in one text).
    let u = 0;
    for (let i = 0; i < arr.length; i++) if (i === 0 || arr[i] !== arr[i - 1]) arr[u++] = arr[i] as number;
    return arr.slice(0, u);
  });
  const count = numeric ? table.size : strings.size;
  const df = new Int32Array(count);
  for (const set of raw) for (const id of set) df[id] = (df[id] as number) + 1;
  // Order ids by (document frequency, id) with one numeric sort: df·count + id is exact below 2^53.
  const order = new Float64Array(count);
  for (let id = 0; id < count; id++) order[id] = (df[id] as number) * count + id;
  order.sort();
  const rank = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const v = order[r] as number;
    rank[v - Math.floor(v / count) * count] = r;
  }
  for (const set of raw) {
    for (let i = 0; i < set.length; i++) set[i] = rank[set[i] as number] as number;
    set.sort();
  }
  return { sets: raw, ids: count };
}

/** Open addressing from an integer key (below 2^53) to a dense id; far faster than a Map for millions of keys. */
class IdTable {
  private keys = new Float64Array(1 << 16).fill(-1);
  private values = new Int32Array(1 << 16);
  size = 0;

  id(key: number): number {
    let mask = this.keys.length - 1;
    if (this.size * 2 >= this.keys.length) {
      this.grow();
      mask = this.keys.length - 1;
    }
    let slot = hash(key) & mask;
    for (;;) {
      const k = this.keys[slot] as number;
      if (k === key) return this.values[slot] as number;
      if (k === -1) {
        this.keys[slot] = key;
        this.values[slot] = this.size;
        return this.size++;
      }
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(oldKeys.length * 2).fill(-1);
    this.values = new Int32Array(oldKeys.length * 2);
    const mask = this.keys.length - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const key = oldKeys[i] as number;
      if (key === -1) continue;
      let slot = hash(key) & mask;
      while (this.keys[slot] !== -1) slot = (slot + 1) & mask;
      this.keys[slot] = key;
      this.values[slot] = oldValues[i] as number;
    }
  }
}

function hash(key: number): number {
  const lo = key >>> 0;
  const hi = Math.floor(key / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * The Jaccard similarity of two sorted id sets when it is at least t; undefined as soon as the
 * shingles left cannot reach the overlap t·(|a|+|b|)/(1+t) that t requires.
 */
function jaccardAtLeast(a: Int32Array, b: Int32Array, t: number): number | undefined {
  const need = (t * (a.length + b.length)) / (1 + t) - EPS;
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < a.length && j < b.length) {
    if (common + Math.min(a.length - i, b.length - j) < need) return undefined;
    const x = a[i] as number;
    const y = b[j] as number;
    if (x === y) {
      common++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  if (common < need) return undefined;
  return common / (a.length + b.length - common);
}
