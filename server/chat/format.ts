/** Plain-text renderings of sessions and messages for the terminal clients. */
import type { ContentPart, Message, Session } from '../../protocol/client/index.js';

export const textOf = (parts: ContentPart[] | undefined) =>
  (parts ?? []).filter((p): p is Extract<ContentPart, { type: 'text' }> => p.type === 'text').map((p) => p.text).join('');

/** One line, at most `max` characters. */
export function oneLine(text: string, max = 200): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export const json = (v: unknown) => {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return String(v);
  }
};

/** `id  name  provider/model  status  updatedAt`, tab-separated (for `cut` and `awk`). */
export function sessionLine(s: Session): string {
  return [s.id, s.name || '-', `${s.provider}/${s.model}`, s.status, s.updatedAt].join('\t');
}

/** A message as lines: `you: …`, `agentd: …`, tool calls and their results. */
export function messageLines(m: Message): string[] {
  const lines: string[] = [];
  const text = textOf(m.content);
  if (text) lines.push(`${m.role === 'user' ? 'you' : 'agentd'}: ${text}`);
  for (const p of m.content) {
    if (p.type === 'tool_use') lines.push(`  tool ${p.name} ${json(p.input)}`);
    if (p.type === 'tool_result') lines.push(`  ${p.isError ? 'error' : 'result'}: ${oneLine(textOf(p.content as ContentPart[]))}`);
  }
  return lines;
}
