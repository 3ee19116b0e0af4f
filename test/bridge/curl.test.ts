// The seed's curl examples, verbatim (only the port differs: the test server listens on port 0),
// run by curl itself against a running `agentd serve`.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { spawnHttp } from '../helpers/rpc-client.js';

const hasCurl = spawnSync('curl', ['--version']).status === 0;

t.test('README curl examples', { skip: hasCurl ? false : 'curl is not installed' }, async (t) => {
  const server = await spawnHttp();
  t.teardown(() => server.stop());
  const port = new URL(server.url).port;
  const sh = (cmd: string) => cmd.replace('localhost:4096', `localhost:${port}`);
  const run = (cmd: string) => {
    const r = spawnSync('bash', ['-c', sh(cmd)], { encoding: 'utf8', timeout: 20_000 });
    t.equal(r.status, 0, `${cmd}: exit 0 ${r.stderr}`);
    return r.stdout;
  };

  const created = JSON.parse(run(`curl -X POST http://localhost:4096/v1/session -H "Content-Type: application/json" -d '{"name": "my-session"}'`));
  t.match(created, { name: 'my-session', provider: 'echo', status: 'idle' });
  const id: string = created.id;

  // The event stream, in another "terminal", started before the message so it sees it live.
  const events = spawn('bash', ['-c', sh(`curl -N http://localhost:4096/v1/session/${id}/events`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { events.kill('SIGTERM'); });
  let stream = '';
  events.stdout.setEncoding('utf8').on('data', (d: string) => { stream += d; });
  const until = async (pred: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${stream}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  await until(() => stream.includes(': connected'), 'the stream to open');

  const reply = JSON.parse(run(`curl -X POST http://localhost:4096/v1/session/${id}/message -H "Content-Type: application/json" -d '{"content": "Hello!"}'`));
  t.match(reply, { role: 'assistant', status: 'complete', content: [{ type: 'text', text: 'Echo: Hello!' }] });

  await until(() => stream.includes('event: turn.completed'), 'turn.completed on the stream');
  t.match(stream, /event: message\.delta\nid: \d+\ndata: \{.*"text":"Echo: "/, 'deltas stream as SSE');
  const types = [...stream.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
  t.same(types, ['message.created', 'turn.started', 'message.created', 'message.delta', 'message.delta', 'message.completed', 'usage.updated', 'turn.completed']);
});
