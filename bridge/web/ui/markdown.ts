/**
 * The model's text as HTML: Markdown by marked, sanitized by DOMPurify, code highlighted by
 * highlight.js (core plus a few common languages, to keep the bundle small), each code block with a
 * Copy button. The text is hostile: raw HTML in it is shown as text, images as their alt text, and
 * DOMPurify then keeps only plain formatting tags with http(s)/mailto/relative links (no script,
 * style, form, iframe, svg, event handler or javascript: URL survives).
 *
 * StreamingMarkdown renders a message while its deltas arrive without re-rendering what is done: the
 * blocks marked has closed are rendered once and kept; only the last, open block is rendered again
 * (at most once per animation frame).
 */
import DOMPurify from 'dompurify';
import { Marked, type Links, type Token, type Tokens } from 'marked';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

for (const [name, lang] of Object.entries({ bash, css, diff, go, javascript, json, python, rust, sql, typescript, xml, yaml })) hljs.registerLanguage(name, lang);
hljs.registerAliases(['sh', 'shell', 'zsh', 'console'], { languageName: 'bash' });
hljs.registerAliases(['js', 'jsx', 'mjs', 'cjs'], { languageName: 'javascript' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });
hljs.registerAliases(['patch'], { languageName: 'diff' });

/** Above this many characters a message is shown as plain text (Markdown of megabytes would stall the page). */
export const MARKDOWN_MAX = 200_000;
/** Code blocks longer than this are not highlighted. */
const HIGHLIGHT_MAX = 50_000;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // Raw HTML in the model's text is shown, not interpreted.
    html: ({ text }: Tokens.HTML | Tokens.Tag) => escapeHtml(text),
    // No remote fetches from the model's text (a pixel could carry data out): the alt text only.
    image: ({ text }: Tokens.Image) => escapeHtml(text),
    code: ({ text, lang }: Tokens.Code) => {
      const language = (lang ?? '').trim().split(/\s+/)[0].toLowerCase();
      const known = language && hljs.getLanguage(language) && text.length <= HIGHLIGHT_MAX;
      const body = known ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text);
      const cls = known ? ` class="hljs language-${escapeHtml(language)}"` : ' class="hljs"';
      return `<pre><code${cls}>${body}</code></pre>\n`;
    },
  },
});

const ALLOWED_TAGS = ['a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'input',
  'li', 'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul'];
/** DOMPurify's settings for the model's text (exported for the tests' reading, and for diff.ts). */
export const PURIFY = {
  ALLOWED_TAGS,
  ALLOWED_ATTR: ['href', 'title', 'class', 'type', 'checked', 'disabled', 'align', 'start'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/|\.{0,2}\/|[^:/?#]*(?:[/?#]|$))/i,
  FORBID_TAGS: ['script', 'style', 'iframe', 'object', 'embed', 'form', 'svg', 'math', 'img', 'video', 'audio', 'link', 'meta', 'base'],
  FORBID_ATTR: ['style', 'srcset', 'action', 'formaction', 'xlink:href'],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true as const,
};

let hooked = false;
function purify(html: string): DocumentFragment {
  if (!hooked) {
    hooked = true;
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A') {
        node.setAttribute('rel', 'noopener noreferrer nofollow');
        node.setAttribute('target', '_blank');
      }
      // GFM task list boxes are for reading only.
      if (node.tagName === 'INPUT') {
        if (node.getAttribute('type') !== 'checkbox') node.remove();
        else node.setAttribute('disabled', '');
      }
    });
  }
  return DOMPurify.sanitize(html, { ...PURIFY }) as unknown as DocumentFragment;
}

/** A Copy button on every code block of `root`. */
function addCopyButtons(root: ParentNode) {
  for (const pre of root.querySelectorAll('pre')) {
    if (pre.parentElement?.classList.contains('code-block')) continue;
    const code = pre.querySelector('code');
    const box = document.createElement('div');
    box.className = 'code-block';
    const bar = document.createElement('div');
    bar.className = 'code-bar';
    const lang = /language-([\w-]+)/.exec(code?.className ?? '')?.[1];
    const label = document.createElement('span');
    label.textContent = lang ?? '';
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'copy secondary';
    copy.textContent = 'Copy';
    copy.setAttribute('aria-label', `Copy ${lang ?? ''} code`.replace('  ', ' '));
    copy.addEventListener('click', () => { void copyText(code?.textContent ?? pre.textContent ?? '').then((ok) => { copy.textContent = ok ? 'Copied' : 'Copy failed'; setTimeout(() => { copy.textContent = 'Copy'; }, 1500); }); });
    bar.append(label, copy);
    pre.replaceWith(box);
    box.append(bar, pre);
  }
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Webviews and plain http pages may refuse the async clipboard: the old way.
    const ta = document.createElement('textarea');
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

/** Renders tokens (already lexed) to sanitized nodes. */
function renderTokens(tokens: Token[], links: Links): DocumentFragment {
  const list = Object.assign([...tokens], { links }) as Token[] & { links: Links };
  const frag = purify(marked.parser(list));
  // The newlines marked puts between blocks are not content.
  for (const n of [...frag.childNodes]) if (n.nodeType === Node.TEXT_NODE && !n.textContent?.trim()) n.remove();
  addCopyButtons(frag);
  return frag;
}

function plain(el: HTMLElement, text: string) {
  const pre = document.createElement('pre');
  pre.className = 'plain';
  pre.textContent = text;
  el.appendChild(pre);
}

/** A message's Markdown rendered as it streams. */
export class StreamingMarkdown {
  private text = '';
  /** How much of `text` the kept (closed) blocks cover. */
  private done = 0;
  private readonly doneEl: HTMLElement;
  private readonly tailEl: HTMLElement;
  private frame = 0;

  constructor(readonly el: HTMLElement) {
    el.textContent = '';
    this.doneEl = document.createElement('div');
    this.doneEl.className = 'md-done';
    this.tailEl = document.createElement('div');
    this.tailEl.className = 'md-tail';
    el.append(this.doneEl, this.tailEl);
  }

  get source() { return this.text; }

  append(delta: string) {
    this.text += delta.replace(/\r\n?/g, '\n');
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.flush(false); });
  }

  /** The whole text is known (message.completed or history): render what is left and stop. */
  finish(text: string) {
    text = text.replace(/\r\n?/g, '\n');
    if (this.frame) { cancelAnimationFrame(this.frame); this.frame = 0; }
    if (!text.startsWith(this.text.slice(0, this.done))) {
      // Not what was streamed (a replay after a gap): render from scratch.
      this.text = text;
      this.done = 0;
      this.doneEl.textContent = '';
    } else this.text = text;
    this.flush(true);
  }

  private flush(final: boolean) {
    if (this.text.length > MARKDOWN_MAX) {
      this.doneEl.textContent = '';
      this.tailEl.textContent = '';
      plain(this.tailEl, this.text);
      return;
    }
    const rest = this.text.slice(this.done);
    const tokens = marked.lexer(rest);
    // The open block: from the last token that is not blank space (its end may still change).
    let open = tokens.length;
    if (!final) {
      open = tokens.length - 1;
      while (open > 0 && tokens[open].type === 'space') open--;
      open = Math.max(open, 0);
    }
    const closed = tokens.slice(0, open);
    if (closed.length) {
      this.doneEl.appendChild(renderTokens(closed, tokens.links));
      this.done += closed.reduce((n, t) => n + t.raw.length, 0);
    }
    this.tailEl.textContent = '';
    const tail = tokens.slice(open);
    if (tail.length) this.tailEl.appendChild(renderTokens(tail, tokens.links));
  }
}
