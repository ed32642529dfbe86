/**
 * Progress on stderr: one live line when stderr is a terminal (cells, generations, pass rate so
 * far, live tokens/s, ETA); otherwise only notes and a closing line, so logs stay readable.
 */
export interface ProgressState {
  cellsDone: number;
  cells: number;
  generations: number;
  total: number;
  passRate: number;
  tokensPerSecond: number | null;
  etaSeconds: number | null;
}

export interface Progress {
  start(total: number): void;
  update(state: ProgressState): void;
  /** Information; hidden by --quiet. */
  note(message: string): void;
  /** Something went wrong or is unusual; shown even with --quiet. */
  warn(message: string): void;
  finish(message: string): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  const live = stream.isTTY === true && !quiet;
  let lastDraw = 0;
  let line = "";
  const clear = () => live && line && stream.write("\r\x1b[2K");
  return {
    start(total) {
      if (!live && !quiet) stream.write(`heldout: ${total} generations to run\n`);
    },
    update(s) {
      if (!live) return;
      const now = performance.now();
      if (now - lastDraw < 100 && s.generations < s.total) return;
      lastDraw = now;
      const pct = s.total ? Math.floor((s.generations / s.total) * 100) : 100;
      line = [
        `cells ${s.cellsDone}/${s.cells}`,
        `generations ${s.generations}/${s.total} (${pct}%)`,
        `pass ${s.passRate.toFixed(3)}`,
        s.tokensPerSecond === null ? null : `${Math.round(s.tokensPerSecond).toLocaleString("en-US")} tok/s`,
        s.etaSeconds === null ? null : `ETA ${formatSeconds(s.etaSeconds)}`,
      ]
        .filter(Boolean)
        .join(" · ");
      stream.write(`\r\x1b[2K${line}`);
    },
    note(message) {
      if (quiet) return;
      clear();
      stream.write(`${message}\n`);
      if (live && line) stream.write(line);
    },
    warn(message) {
      clear();
      stream.write(`heldout: ${message}\n`);
      if (live && line) stream.write(line);
    },
    finish(message) {
      clear();
      line = "";
      if (!quiet) stream.write(`heldout: ${message}\n`);
    },
  };
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
