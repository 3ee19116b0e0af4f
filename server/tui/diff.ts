/**
 * What a file tool call will change, as diff lines for the screen: edit_file's old_string →
 * new_string (jsdiff's line diff), write_file's content as added lines. The client sees only the
 * call's input (the server may be elsewhere), so a write shows what will be in the file, not what
 * was there. At most `max` lines; the rest is counted.
 */
import { diffLines } from 'diff';

export interface DiffLine { sign: '+' | '-' | ' ' | '…'; text: string }

const lines = (s: string) => s.replace(/\n$/, '').split('\n');

export function callDiff(tool: string, input: Record<string, unknown>, max = 30): DiffLine[] | undefined {
  let out: DiffLine[];
  if (tool === 'edit_file' && typeof input.old_string === 'string' && typeof input.new_string === 'string') {
    out = diffLines(input.old_string.slice(0, 100_000), input.new_string.slice(0, 100_000)).flatMap((c) =>
      lines(c.value).map((text): DiffLine => ({ sign: c.added ? '+' : c.removed ? '-' : ' ', text })));
  } else if (tool === 'write_file' && typeof input.content === 'string') {
    out = lines(input.content.slice(0, 100_000)).map((text) => ({ sign: '+', text }));
  } else {
    return undefined;
  }
  if (out.length > max) out = [...out.slice(0, max), { sign: '…', text: `${out.length - max} more lines` }];
  return out;
}

/** The call in one line: the command of run_command, the path of a file tool, else its input. */
export function callSummary(tool: string, input: Record<string, unknown>): string {
  const main = typeof input.command === 'string' ? input.command : typeof input.path === 'string' ? input.path : undefined;
  let s = main ?? (() => { try { return JSON.stringify(input); } catch { return ''; } })();
  s = s.replace(/\s+/g, ' ').trim();
  return `${tool} ${s.length > 160 ? `${s.slice(0, 159)}…` : s}`.trim();
}
