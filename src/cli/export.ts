import { Option, type Command } from "commander";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { EXPORT_FORMATS, EXPORT_TABLES, exportRun, type ExportFormat, type ExportTable } from "../report/export.js";
import { loadRun } from "../store/runs.js";

interface ExportFlags {
  format: ExportFormat;
  table: ExportTable;
  out?: string;
  results: string;
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("write a finished run as CSV or JSONL (per cell, per area or per record), or as markdown for a pull-request comment")
    .argument("<run>", "run directory, or a run id under the results root")
    .addOption(new Option("--format <format>", "output format").choices(EXPORT_FORMATS).makeOptionMandatory())
    .addOption(new Option("--table <table>", "rows: one per cell, per cell × area, or per record (csv, jsonl; markdown is always the summary)").choices(EXPORT_TABLES).default("summary"))
    .option("--out <file>", "write to this file (parent folders are created) instead of stdout")
    .option("--results <dir>", "results root for run ids", "results")
    .addHelpText(
      "after",
      `
Examples:
  heldout export myrun --format csv --out myrun.csv
  heldout export results/myrun --format csv --table records > records.csv
  heldout export myrun --format markdown > comment.md`,
    )
    .action((run: string, flags: ExportFlags) => {
      const loaded = loadRun(run, flags.results);
      const text = exportRun(loaded, flags.format, flags.table);
      if (flags.out) {
        mkdirSync(dirname(flags.out), { recursive: true });
        writeFileSync(flags.out, text);
      } else {
        // `heldout export … | head`: a reader that stops early is not an error.
        process.stdout.once("error", (error: NodeJS.ErrnoException) => {
          if (error.code !== "EPIPE") throw error;
        });
        process.stdout.write(text);
      }
    });
}
