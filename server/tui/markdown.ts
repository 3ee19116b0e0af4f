/**
 * Assistant text as Markdown for the terminal: marked's lexer gives the tokens, rendered as Ink
 * elements (bold, italic, inline code in colour, headings, lists, quotes, links with their URL),
 * and code blocks set apart by a rule on their left with the language named and the code
 * highlighted by emphasize (highlight.js grammars). Text that is still streaming renders as it
 * stands: an unclosed `**` or fence shows as plain text until its end arrives.
 */
import { common, createEmphasize } from 'emphasize';
import { Box, Text } from 'ink';
import { Lexer, type Token, type Tokens } from 'marked';
import { createElement as h, type ReactNode } from 'react';

let highlighter: ReturnType<typeof createEmphasize> | undefined;

/** Code highlighted with ANSI colours; plain when the language is unknown or too long to bother. */
export function highlight(code: string, lang: string | undefined): string {
  if (!lang || code.length > 20_000) return code;
  highlighter ??= createEmphasize(common);
  if (!highlighter.registered(lang)) return code;
  try {
    return highlighter.highlight(lang, code).value;
  } catch {
    return code;
  }
}

const decode = (s: string) => s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? _);

function inline(tokens: Token[] | undefined, key = 'i'): ReactNode[] {
  return (tokens ?? []).map((t, i): ReactNode => {
    const k = `${key}${i}`;
    switch (t.type) {
      case 'strong': return h(Text, { key: k, bold: true }, ...inline((t as Tokens.Strong).tokens, k));
      case 'em': return h(Text, { key: k, italic: true }, ...inline((t as Tokens.Em).tokens, k));
      case 'del': return h(Text, { key: k, strikethrough: true }, ...inline((t as Tokens.Del).tokens, k));
      case 'codespan': return h(Text, { key: k, color: 'cyan' }, decode((t as Tokens.Codespan).text));
      case 'br': return '\n';
      case 'link': {
        const l = t as Tokens.Link;
        const label = inline(l.tokens, k);
        return l.text === l.href ? h(Text, { key: k, color: 'blue', underline: true }, l.href) : h(Text, { key: k }, h(Text, { color: 'blue', underline: true }, ...label), h(Text, { dimColor: true }, ` (${l.href})`));
      }
      case 'image': return h(Text, { key: k, dimColor: true }, `[image: ${(t as Tokens.Image).text}]`);
      case 'text': {
        const x = t as Tokens.Text;
        return x.tokens?.length ? h(Text, { key: k }, ...inline(x.tokens, k)) : decode(x.text);
      }
      case 'escape': return (t as Tokens.Escape).text;
      case 'html': return (t as Tokens.HTML).text;
      default: return 'text' in t && typeof t.text === 'string' ? t.text : t.raw;
    }
  });
}

function listItems(list: Tokens.List, key: string, depth: number): ReactNode[] {
  const start = typeof list.start === 'number' ? list.start : 1;
  return list.items.map((item, i) => {
    const k = `${key}l${i}`;
    const bullet = list.ordered ? `${start + i}.` : depth % 2 ? '◦' : '•';
    const mark = item.task ? (item.checked ? '[x] ' : '[ ] ') : '';
    return h(Box, { key: k, flexDirection: 'row' },
      h(Text, {}, `${'  '.repeat(depth)}${bullet} ${mark}`),
      h(Box, { flexDirection: 'column', flexShrink: 1 }, ...blocks(item.tokens, k, depth + 1)));
  });
}

function codeBlock(code: Tokens.Code, key: string): ReactNode {
  const lang = (code.lang ?? '').split(/\s/)[0] || undefined;
  const lines = highlight(code.text.replace(/\n$/, ''), lang).split('\n');
  return h(Box, { key, flexDirection: 'column', marginY: 0 },
    h(Text, { dimColor: true }, `╭─ ${lang ?? 'code'}`),
    ...lines.map((l, i) => h(Text, { key: `${key}c${i}` }, h(Text, { dimColor: true }, '│ '), l)),
    h(Text, { dimColor: true }, '╰─'));
}

function blocks(tokens: Token[], key = 'b', depth = 0): ReactNode[] {
  const out: ReactNode[] = [];
  tokens.forEach((t, i) => {
    const k = `${key}${i}`;
    switch (t.type) {
      case 'space': return;
      case 'heading': {
        const x = t as Tokens.Heading;
        out.push(h(Text, { key: k, bold: true, color: x.depth <= 2 ? 'magenta' : undefined, underline: x.depth === 1 }, ...inline(x.tokens, k)));
        return;
      }
      case 'paragraph': out.push(h(Text, { key: k }, ...inline((t as Tokens.Paragraph).tokens, k))); return;
      case 'text': {
        const x = t as Tokens.Text;
        out.push(h(Text, { key: k }, ...(x.tokens ? inline(x.tokens, k) : [decode(x.text)])));
        return;
      }
      case 'code': out.push(codeBlock(t as Tokens.Code, k)); return;
      case 'list': out.push(h(Box, { key: k, flexDirection: 'column' }, ...listItems(t as Tokens.List, k, depth))); return;
      case 'blockquote':
        out.push(h(Box, { key: k, flexDirection: 'row' }, h(Text, { dimColor: true }, '▎ '), h(Box, { flexDirection: 'column' }, ...blocks((t as Tokens.Blockquote).tokens, k, depth))));
        return;
      case 'hr': out.push(h(Text, { key: k, dimColor: true }, '─'.repeat(20))); return;
      case 'table': {
        const x = t as Tokens.Table;
        const row = (cells: Tokens.TableCell[], rk: string, bold = false) => h(Text, { key: rk, bold }, ...cells.flatMap((c, ci) => [ci ? ' │ ' : '', ...inline(c.tokens, `${rk}${ci}`)]));
        out.push(h(Box, { key: k, flexDirection: 'column' }, row(x.header, `${k}h`, true), ...x.rows.map((r, ri) => row(r, `${k}r${ri}`))));
        return;
      }
      default: out.push(h(Text, { key: k }, t.raw.replace(/\n+$/, '')));
    }
  });
  return out;
}

/** Markdown text as Ink elements, one per block, blocks separated by a blank line. */
export function Markdown({ text }: { text: string }): ReactNode {
  const parts = blocks(Lexer.lex(text, { gfm: true }));
  return h(Box, { flexDirection: 'column', gap: 1 }, ...parts);
}
