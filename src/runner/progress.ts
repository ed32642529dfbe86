/**
 * Progress on stderr: a live line with ETA when stderr is a terminal, a line per cell otherwise,
 * so logs and CI output stay readable.
 */
export interface Progress {
  startCell(label: string, total: number): void;
  tick(done: number): void;
  endCell(message: string): void;
  note(message: string): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  const live = stream.isTTY === true && !quiet;
  let label = "";
  let total = 0;
  let started = 0;
  let lastDraw = 0;
  const clear = () => live && stream.write("\r\x1b[2K");
  return {
    startCell(l, t) {
      label = l;
      total = t;
      started = performance.now();
      lastDraw = 0;
      if (!live && !quiet) stream.write(`${label}: running ${total} generations\n`);
    },
    tick(done) {
      if (!live) return;
      const now = performance.now();
      if (now - lastDraw < 100 && done < total) return;
      lastDraw = now;
      const elapsed = (now - started) / 1000;
      const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
      const pct = total ? Math.floor((done / total) * 100) : 100;
      stream.write(`\r\x1b[2K${label}: ${done}/${total} (${pct}%)${Number.isFinite(eta) ? ` ETA ${formatSeconds(eta)}` : ""}`);
    },
    endCell(message) {
      clear();
      if (!quiet) stream.write(`${label}: ${message}\n`);
    },
    note(message) {
      clear();
      if (!quiet) stream.write(`${message}\n`);
    },
  };
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, "0")}s`;
}
