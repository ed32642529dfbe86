import { createHash } from "node:crypto";

/**
 * A Merkle tree over a suite's task content hashes (`taskHash` in core/suite.ts), so a result card
 * can commit to every task without publishing any, and a task revealed later can be proven part
 * of the suite. Pure.
 *
 * - Leaves are ordered by task id (plain string order, as `suiteHash` orders tasks).
 * - Domain separation (RFC 6962 style): leaf = sha256(0x00 ‖ taskHash), node = sha256(0x01 ‖ left ‖ right),
 *   where taskHash is the task's sha256 as 32 raw bytes. A leaf can never be passed off as a node.
 * - An odd node at the end of a level is promoted unchanged to the next level (never duplicated:
 *   duplication lets two different leaf lists share a root). Its proof simply has no step there.
 * - The root of an empty tree is sha256 of nothing (a suite always has tasks).
 * All hashes are lowercase hex.
 */

export interface MerkleLeafInput {
  id: string;
  /** The task's content hash (hex sha256). */
  hash: string;
}

export interface ProofStep {
  /** Which side the sibling sits on: "left" → parent = node(sibling, current). */
  side: "left" | "right";
  hash: string;
}

export interface InclusionProof {
  id: string;
  /** The leaf's position in id order, and how many leaves there are (informative: verification needs neither). */
  index: number;
  leaves: number;
  /** Sibling hashes from the leaf up to the root. */
  path: ProofStep[];
}

export interface MerkleTree {
  /** Ids in leaf order. */
  ids: string[];
  /** levels[0]: the leaf hashes; the last level holds the root alone. */
  levels: string[][];
  root: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

function hexBytes(hex: string): Buffer {
  if (!HEX64.test(hex)) throw new Error(`not a sha256 hex digest: ${hex}`);
  return Buffer.from(hex, "hex");
}

export function leafHash(taskHash: string): string {
  return createHash("sha256").update(Buffer.from([0x00])).update(hexBytes(taskHash)).digest("hex");
}

export function nodeHash(left: string, right: string): string {
  return createHash("sha256").update(Buffer.from([0x01])).update(hexBytes(left)).update(hexBytes(right)).digest("hex");
}

const byId = (a: MerkleLeafInput, b: MerkleLeafInput) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function buildTree(leaves: readonly MerkleLeafInput[]): MerkleTree {
  const sorted = [...leaves].sort(byId);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]?.id === sorted[i - 1]?.id) throw new Error(`duplicate task id in a Merkle tree: ${sorted[i]?.id}`);
  }
  const levels: string[][] = [sorted.map((l) => leafHash(l.hash))];
  let level = levels[0] as string[];
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as string;
      const right = level[i + 1];
      next.push(right === undefined ? left : nodeHash(left, right));
    }
    levels.push(next);
    level = next;
  }
  const root = level[0] ?? createHash("sha256").digest("hex");
  return { ids: sorted.map((l) => l.id), levels, root };
}

export function merkleRoot(leaves: readonly MerkleLeafInput[]): string {
  return buildTree(leaves).root;
}

/** The inclusion proof of the leaf with this id; undefined when the tree has no such leaf. */
export function inclusionProof(tree: MerkleTree, id: string): InclusionProof | undefined {
  let index = tree.ids.indexOf(id);
  if (index < 0) return undefined;
  const leafIndex = index;
  const path: ProofStep[] = [];
  for (const level of tree.levels.slice(0, -1)) {
    const isRight = index % 2 === 1;
    const sibling = level[isRight ? index - 1 : index + 1];
    // No sibling: the node was promoted, the level adds no step.
    if (sibling !== undefined) path.push({ side: isRight ? "left" : "right", hash: sibling });
    index = Math.floor(index / 2);
  }
  return { id, index: leafIndex, leaves: tree.ids.length, path };
}

/** Folds the proof from the task's content hash up and compares with the root. */
export function verifyProof(taskHash: string, proof: Pick<InclusionProof, "path">, root: string): boolean {
  try {
    let h = leafHash(taskHash);
    for (const step of proof.path) h = step.side === "left" ? nodeHash(step.hash, h) : nodeHash(h, step.hash);
    return h === root;
  } catch {
    return false;
  }
}
