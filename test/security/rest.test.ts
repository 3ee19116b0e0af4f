// REST: rate limiting per key/IP, and a seeded fuzz of bad requests. Every bad request gets a
// 4xx with the one JSON error body; the server stays up; sessions created before are intact.
import t from 'tap';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { methodTable } from '../../protocol/index.js';
import { spawnHttp, tempDir } from '../helpers/rpc-client.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const PER_KIND = Number(process.env.FUZZ_PER_KIND ?? 120);

async function http(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: { error?: { code: number; message: string } } | undefined;
  try { body = JSON.parse(text); } catch { body = undefined; }
  return { status: res.status, headers: res.headers, text, body };
}

t.test('REST requests are rate limited per client with 429, Retry-After and the error body', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ security: { rateLimit: { loopback: true, requestsPerMinute: 5 } } }));
  const server = await spawnHttp({ dataDir: dir });
  t.teardown(() => server.stop());
  const statuses: number[] = [];
  let limited: Awaited<ReturnType<typeof http>> | undefined;
  for (let i = 0; i < 8; i++) {
    const r = await http(`${server.url}/v1/session`);
    statuses.push(r.status);
    if (r.status === 429) limited = r;
  }
  t.same(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
  t.ok(limited, 'over the limit');
  t.equal(limited!.body?.error?.code, -32015);
  t.ok(Number(limited!.headers.get('retry-after')) >= 1, 'Retry-After header');
});

type Rest = { method: string; path: string };
const routes = Object.entries(methodTable as Record<string, { rest?: Rest }>).filter(([, m]) => m.rest).map(([name, m]) => ({ name, ...m.rest! }));

t.test(`REST fuzz (seed ${SEED})`, async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ limits: { maxBodyBytes: 65536 }, security: { rateLimit: { requestsPerMinute: 1_000_000 } } }));
  const server = await spawnHttp({ dataDir: dir });
  t.teardown(() => server.stop());
  const base = server.url;
  const keep = await http(`${base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"keep"}' });
  const id = (keep.body as unknown as { id: string }).id;
  await http(`${base}/v1/session/${id}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"content":"stay"}' });
  const before = await http(`${base}/v1/session/${id}`);

  const junk = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 }));
  const sample = <T>(arb: fc.Arbitrary<T>, salt: number) => fc.sample(arb, { seed: SEED + salt, numRuns: PER_KIND });
  type Case = { kind: string; method: string; path: string; headers?: Record<string, string>; body?: string; ok: (s: number) => boolean };
  const fill = (path: string, v: string) => path.replace(/\{\w+\}/g, encodeURIComponent(v));
  const posts = routes.filter((r) => r.method === 'POST' || r.method === 'PUT');
  const is4xx = (s: number) => s >= 400 && s < 500;
  const cases: Case[] = [];
  for (const [r, s] of sample(fc.tuple(fc.constantFrom(...posts), fc.string({ minLength: 1 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } })), 1)) {
    cases.push({ kind: 'invalid json', method: r.method, path: fill(r.path, id), headers: { 'content-type': 'application/json' }, body: s, ok: (st) => st === 400 });
  }
  for (const [r, ct] of sample(fc.tuple(fc.constantFrom(...posts), fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml')), 2)) {
    cases.push({ kind: 'wrong content type', method: r.method, path: fill(r.path, id), headers: { 'content-type': ct }, body: 'a=b', ok: (st) => st === 415 });
  }
  for (const [r, n] of sample(fc.tuple(fc.constantFrom(...posts), fc.integer({ min: 70_000, max: 300_000 })), 3)) {
    cases.push({ kind: 'oversized', method: r.method, path: fill(r.path, id), headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(n) }), ok: (st) => st === 413 });
  }
  for (const [r, body] of sample(fc.tuple(fc.constantFrom(...posts), fc.dictionary(fc.constantFrom('name', 'content', 'model', 'provider', 'apiKey', 'decision', 'permissionId', 'config', 'workspaceRoot', 'code', 'state', 'x'), junk, { minKeys: 1, maxKeys: 4 })), 4)) {
    cases.push({ kind: 'wrong params', method: r.method, path: fill(r.path, `nope_${id}`), headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ok: is4xx });
  }
  for (const [r, v] of sample(fc.tuple(fc.constantFrom(...routes.filter((r) => r.path.includes('{'))), fc.constantFrom('../../etc/passwd', '..%2f..%2fetc', '%00', '....//....//', '/etc/shadow', 'a'.repeat(5000))), 5)) {
    cases.push({ kind: 'path traversal', method: r.method, path: r.path.replace(/\{\w+\}/g, v), headers: r.method === 'GET' || r.method === 'DELETE' ? {} : { 'content-type': 'application/json' }, body: r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}', ok: is4xx });
  }
  for (const p of sample(fc.string({ minLength: 1, maxLength: 30 }).map((s) => `/v1/${encodeURIComponent(s)}/zz`), 6)) cases.push({ kind: 'unknown route', method: 'GET', path: p, ok: (st) => st === 404 });
  for (const depth of sample(fc.integer({ min: 1000, max: 20_000 }), 7)) {
    cases.push({ kind: 'deep nesting', method: 'POST', path: '/v1/session', headers: { 'content-type': 'application/json' }, body: `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`, ok: (st) => st === 400 || st === 413 });
  }
  for (const sid of sample(fc.string({ minLength: 1, maxLength: 40 }), 8)) cases.push({ kind: 'unknown session', method: 'GET', path: `/v1/session/${encodeURIComponent(`${sid}_x`)}`, ok: (st) => st === 404 });
  t.ok(cases.length >= 900, `${cases.length} cases`);

  const failures: string[] = [];
  const deadline = Date.now() + 120_000;
  for (const c of cases) {
    if (Date.now() > deadline) { failures.push('time budget exceeded'); break; }
    let r;
    try {
      r = await http(`${base}${c.path}`, { method: c.method, headers: c.headers, body: c.body });
    } catch (err) {
      failures.push(`${c.kind}: request failed ${(err as Error).message}`);
      continue;
    }
    const typed = typeof r.body?.error?.code === 'number' && typeof r.body.error.message === 'string';
    if (!c.ok(r.status) || !typed || /<html|at \w+ \(/i.test(r.text)) failures.push(`${c.kind} ${c.method} ${c.path.slice(0, 60)} → ${r.status} ${r.text.slice(0, 120)}`);
  }
  t.same(failures.slice(0, 10), [], 'every bad request got a 4xx with the JSON error body');
  const after = await http(`${base}/v1/session/${id}`);
  t.same(after.body, before.body, 'the session and its messages are intact');
  t.equal((await http(`${base}/v1/health`)).status, 200, 'still up');
});
