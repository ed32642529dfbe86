/** Commander's accumulator for an option given several times (`--model a --model b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
