/**
 * A strict RFC 4180 reader: fields separated by a delimiter, records by LF or CRLF, a field in
 * double quotes may hold delimiters, line breaks and `""` (one quote). Every record keeps the
 * 1-based line it starts on, so a problem can name it. Pure.
 *
 * Strict on purpose: a quote inside an unquoted field, text after a closing quote, an unclosed
 * quote or a record with the wrong number of fields is an error (a log import must not guess).
 */

export interface CsvRecord {
  /** 1-based line of the file on which the record starts. */
  line: number;
  fields: string[];
}

export interface CsvProblem {
  line: number;
  message: string;
}

export interface CsvResult {
  records: CsvRecord[];
  problems: CsvProblem[];
}

export function parseCsv(text: string, delimiter = ","): CsvResult {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === "\n" || delimiter === "\r") throw new RangeError(`a CSV delimiter must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`);
  const records: CsvRecord[] = [];
  const problems: CsvProblem[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let bad: string | undefined;
    // One record: fields until an unquoted line break or the end of the text.
    for (;;) {
      let value = "";
      if (text[i] === '"') {
        const openLine = line;
        i++;
        let closed = false;
        while (i < n) {
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === "\n") line++;
          value += c;
          i++;
        }
        if (!closed) {
          bad ??= `a quoted field opened on line ${openLine} is never closed`;
          fields.push(value);
          break;
        }
        const next = text[i];
        if (i < n && next !== delimiter && next !== "\n" && next !== "\r") {
          bad ??= `text after the closing quote of field ${fields.length + 1}`;
          // Skip to the next delimiter or line break so the rest of the record is still read.
          while (i < n && text[i] !== delimiter && text[i] !== "\n") i++;
        }
      } else {
        while (i < n) {
          const c = text[i];
          if (c === delimiter || c === "\n" || (c === "\r" && text[i + 1] === "\n")) break;
          if (c === '"') bad ??= `a quote inside unquoted field ${fields.length + 1} (quote the whole field and double the quote: "a ""b"" c")`;
          value += c;
          i++;
        }
      }
      fields.push(value);
      if (i >= n) break;
      if (text[i] === delimiter) {
        i++;
        if (i >= n) {
          fields.push("");
          break;
        }
        continue;
      }
      // A line break ends the record.
      if (text[i] === "\r") i++;
      if (text[i] === "\n") {
        i++;
        line++;
      }
      break;
    }
    // Blank lines between records are not records.
    if (fields.length === 1 && fields[0] === "" && bad === undefined) continue;
    if (bad !== undefined) problems.push({ line: startLine, message: bad });
    records.push({ line: startLine, fields });
  }
  return { records, problems };
}
