/** The script runner: words, continuations, here-documents, refusals, failure naming the line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newHost } from '../src/host/model.js';
import { builtinHandlers, parseScript, runScript, type ScriptHandler } from '../src/host/script.js';
import type { Host } from '../src/host/types.js';

async function run(h: Host, text: string, extra: [string, ScriptHandler][] = []) {
  let out = '', err = '';
  const handlers = builtinHandlers();
  for (const [k, v] of extra) handlers.set(k, v);
  const res = await runScript(h, text, { file: 'gw.sh', handlers, io: { out: (t) => { out += t; }, err: (t) => { err += t; } }, readFile: () => '' });
  return { ...res, out, err };
}

test('comments, quotes and backslash continuations', () => {
  const lines = parseScript('# setup\nip link add \\\n  lan0 type veth \\\n  peer name lan1   # trailing\n\nsysctl -w "net.ipv4.ip_forward=1"\n');
  assert.deepEqual(lines.map((l) => [l.line, l.words]), [
    [2, ['ip', 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1']],
    [6, ['sysctl', '-w', 'net.ipv4.ip_forward=1']],
  ]);
});

test("here-documents feed the command's standard input", async () => {
  let seen: { argv: string[]; stdin?: string } | undefined;
  const nft: ScriptHandler = (argv, env) => { seen = { argv, ...(env.stdin !== undefined ? { stdin: env.stdin } : {}) }; return 0; };
  const r = await run(newHost('s'), "nft -f - <<'EOF'\ntable inet f {\n}\nEOF\nip link add x type dummy\n", [['nft', nft]]);
  assert.equal(r.status, 0);
  assert.deepEqual(seen, { argv: ['-f', '-'], stdin: 'table inet f {\n}\n' });
  assert.equal(r.ran, 2);
});

test('the first failing line stops the script and is named with its message', async () => {
  const h = newHost('s');
  const r = await run(h, 'ip link add a type veth peer name b\nip addr add 10.0.0.1/24 dev eth9\nip link add c type dummy\n');
  assert.equal(r.status, 1);
  assert.equal(r.failedLine, 2);
  assert.equal(r.err, 'gw.sh:2: Cannot find device "eth9"\n');
  assert.ok(!h.links.some((l) => l.name === 'c'), 'nothing after the failing line ran');
});

test('shell features and prefixes are refused, clearly', async () => {
  for (const [text, msg] of [
    ['sudo ip link add a type dummy', /"sudo" is not supported/],
    ['ip netns exec gw ip link', /"ip netns exec" is not supported/],
    ['nfx ip link', /"nfx" lines are not supported/],
    ['ip link | grep lo', /shell syntax "\|" is not supported/],
    ['ip link add $IF type dummy', /shell expansion "\$" is not supported/],
    ['tc qdisc add dev lo root noqueue', /"tc" is not supported here/],
  ] as const) {
    const r = await run(newHost('s'), text + '\n');
    assert.equal(r.status, 2, text);
    assert.match(r.err, msg);
    assert.match(r.err, /^gw\.sh:1: /);
  }
});

test('an unclosed here-document is a syntax error on its line', async () => {
  const r = await run(newHost('s'), 'ip link\nnft -f - <<EOF\nflush ruleset\n', [['nft', () => 0]]);
  assert.equal(r.status, 2);
  assert.equal(r.err, 'gw.sh:2: here-document delimited by "EOF" is not closed\n');
});

test('bridge lines configure ports, as the bridge command does', async () => {
  const h = newHost('s');
  const r = await run(h, 'ip link add br0 type bridge\nip link add p1 type dummy\nip link set p1 master br0\nbridge link set dev p1 learning off\nbridge link show\n');
  assert.equal(r.status, 0, r.err);
  assert.equal(r.ran, 5);
  assert.match(r.out, /p1.*master br0/);
});
