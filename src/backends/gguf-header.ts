import { closeSync, openSync, readSync } from "node:fs";

/**
 * Checks a file's GGUF header before node-llama-cpp reads it: its reader was seen to hang forever
 * on a file with the GGUF magic and a nonsense version, which would stall the whole run.
 */
export function checkGgufHeader(path: string): void {
  const fd = openSync(path, "r");
  try {
    const header = Buffer.alloc(8);
    const n = readSync(fd, header, 0, 8, 0);
    if (n < 8 || header.toString("latin1", 0, 4) !== "GGUF") throw new Error(`${path} is not a GGUF file (no GGUF magic at its start)`);
    const version = header.readUInt32LE(4);
    if (version < 1 || version > 3) throw new Error(`${path} has GGUF version ${version}; versions 1–3 exist (a corrupt or foreign file?)`);
  } finally {
    closeSync(fd);
  }
}
