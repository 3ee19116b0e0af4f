/**
 * The approval rule language, shared by the server's policy (server/approval/policy.ts) and by
 * clients that answer approvals from rules of their own (`agentd run --allow`), so both match a
 * call the same way. A rule's `tool` is a name or glob (`mcp__*`); its optional `match` is a glob
 * over the call's main argument. For `command`, `*` matches any text, and an `allow` rule never
 * matches a command containing shell control operators; `deny` and `ask` rules also match each
 * piece of a chained command.
 */
import picomatch from 'picomatch';
import type { ApprovalAction, ApprovalRule } from './generated/types.js';

/** The argument `match` globs look at: `command`, else `path`, else the first string field. */
export function mainArgument(input: Record<string, unknown>): { key: string; value: string } | undefined {
  for (const key of ['command', 'path']) {
    const v = input[key];
    if (typeof v === 'string') return { key, value: v };
  }
  for (const [key, v] of Object.entries(input)) if (typeof v === 'string') return { key, value: v };
  return undefined;
}

const SHELL_CONTROL = /[;&|`\n\r<>]|\$\(/;
const SEGMENTS = /;|&&|\|\||\||&|\n|\r|`|\$\(|\)/;
const cache = new Map<string, (s: string) => boolean>();

function glob(pattern: string, command: boolean): (s: string) => boolean {
  const key = `${command ? 'c' : 'p'}:${pattern}`;
  let m = cache.get(key);
  if (!m) {
    // For commands a single `*` matches anything, `/` and spaces included (bash mode).
    m = picomatch(pattern, { dot: true, bash: command, nobrace: command, noextglob: command });
    if (cache.size > 1000) cache.clear();
    cache.set(key, m);
  }
  return m;
}

export function ruleMatches(rule: ApprovalRule, tool: string, input: Record<string, unknown>): boolean {
  if (!glob(rule.tool, false)(tool)) return false;
  if (rule.match === undefined) return true;
  const arg = mainArgument(input);
  if (!arg) return false;
  const isCommand = arg.key === 'command';
  const m = glob(rule.match, isCommand);
  if (!isCommand) return m(arg.value);
  if (rule.action === 'allow') return !SHELL_CONTROL.test(arg.value) && m(arg.value);
  // deny / ask rules also match any piece of a chained command (`git status; rm -rf ~`).
  return m(arg.value) || arg.value.split(SEGMENTS).some((seg) => m(seg.trim()));
}

/**
 * A rule written on a command line: `TOOL` or `TOOL:MATCH` (`run_command:git status*`,
 * `write_file:src/**`). The tool part is split at the first `:` (tool names have none).
 */
export function parseRuleFlag(text: string, action: ApprovalAction = 'allow'): ApprovalRule {
  const i = text.indexOf(':');
  const tool = (i < 0 ? text : text.slice(0, i)).trim();
  if (!tool) throw new Error(`not a rule: ${JSON.stringify(text)} (TOOL or TOOL:MATCH)`);
  if (text.length > 1000) throw new Error('a rule is at most 1000 characters');
  return i < 0 ? { tool, action } : { tool, match: text.slice(i + 1), action };
}

/** A rule as a command line writes it (the inverse of parseRuleFlag). */
export const ruleFlag = (rule: ApprovalRule) => (rule.match === undefined ? rule.tool : `${rule.tool}:${rule.match}`);
