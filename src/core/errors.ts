/**
 * The one error type a user is meant to read. Everything else that escapes is a bug and is printed
 * with its stack. `file`, `line` and `field` locate bad input so the message can point at it.
 */
export interface ErrorLocation {
  file?: string;
  line?: number;
  field?: string;
}

export class HeldoutError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly file?: string;
  readonly line?: number;
  readonly field?: string;

  constructor(code: string, message: string, location: ErrorLocation = {}, exitCode = 2) {
    super(message);
    this.name = "HeldoutError";
    this.code = code;
    this.exitCode = exitCode;
    this.file = location.file;
    this.line = location.line;
    this.field = location.field;
  }

  /** `file:line: field: message`, the form editors and terminals make clickable. */
  format(): string {
    const where = [this.file, this.line === undefined ? undefined : String(this.line)].filter(Boolean).join(":");
    const field = this.field ? `field "${this.field}": ` : "";
    return `${where ? `${where}: ` : ""}${field}${this.message}`;
  }
}

/** Several input errors found in one pass, so a user fixes them all at once instead of one per run. */
export class HeldoutErrors extends HeldoutError {
  readonly errors: HeldoutError[];
  constructor(errors: HeldoutError[]) {
    super(errors[0]?.code ?? "invalid-input", `${errors.length} problems found`, {}, errors[0]?.exitCode ?? 2);
    this.errors = errors;
  }
  override format(): string {
    return this.errors.map((e) => e.format()).join("\n");
  }
}

/** A child process (a tool, a scoring worker) was stopped by Ctrl-C or SIGTERM: the caller stops too, resumably. */
export class StoppedBySignal extends Error {}
