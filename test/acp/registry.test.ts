// acp/agent.json is a registry entry for this version; acp/icon.svg a 16x16 monochrome icon in currentColor.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/rpc-client.js';

t.test('acp/agent.json: id, name, version, description, an npx distribution running `agentd acp`', async (t) => {
  const agent = JSON.parse(readFileSync(join(ROOT, 'acp', 'agent.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  t.match(agent.id, /^[a-z][a-z0-9-]*$/);
  t.equal(agent.name, 'agentd');
  t.equal(agent.version, pkg.version, 'the package\'s version');
  t.type(agent.description, 'string');
  t.same(agent.distribution.npx, { package: `agentd@${pkg.version}`, args: ['acp'] });
});

t.test('acp/icon.svg: 16x16, monochrome with currentColor', async (t) => {
  const svg = readFileSync(join(ROOT, 'acp', 'icon.svg'), 'utf8');
  t.match(svg, /<svg [^>]*width="16"[^>]*height="16"/);
  t.match(svg, /viewBox="0 0 16 16"/);
  t.match(svg, /currentColor/);
  t.notMatch(svg.replace(/currentColor/g, ''), /#[0-9a-f]{3,8}\b|rgb\(|fill="(?!none)[a-z]/i, 'no other colour');
});
