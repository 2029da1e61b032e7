/**
 * `nfx nft` on a temporary NFX_HOME: the ruleset survives between
 * invocations in the host file, a failing batch leaves the file untouched,
 * and `nfx run` scripts take `nft -f - <<'EOF'` here-documents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nftCommand, nftScriptHandler } from '../src/cli/commands/nft.js';
import type { CliContext } from '../src/cli/context.js';
import { builtinHandlers, runScript } from '../src/host/script.js';
import { newHost } from '../src/host/model.js';
import { loadRuleset } from '../src/nft/command.js';

function cli(home: string, stdin = ''): { ctx: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const ctx: CliContext = {
    netns: 'default', home,
    stdout: (t) => { out += t; }, stderr: (t) => { err += t; },
    readStdin: async () => new TextEncoder().encode(stdin),
  };
  return { ctx, out: () => out, err: () => err };
}

async function nfx(home: string, argv: string[], stdin?: string): Promise<{ status: number; out: string; err: string }> {
  const c = cli(home, stdin);
  const status = await nftCommand(argv, c.ctx);
  return { status, out: c.out(), err: c.err() };
}

test('nfx nft: rules persist in the host between invocations', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nfx-nft-'));
  try {
    assert.equal((await nfx(home, ['add', 'table', 'inet', 'fw'])).status, 0);
    assert.equal((await nfx(home, ['add chain inet fw in { type filter hook input priority filter; policy drop; }'])).status, 0);
    assert.equal((await nfx(home, ['add', 'rule', 'inet', 'fw', 'in', 'ct', 'state', 'established,related', 'accept'])).status, 0);
    const res = await nfx(home, ['list', 'ruleset']);
    assert.equal(res.out, `table inet fw {
	chain in {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
	}
}
`);
    assert.ok(fs.existsSync(path.join(home, 'netns', 'default.json')));
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('nfx nft: a failing batch leaves the host file byte for byte as it was', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nfx-nft-'));
  try {
    await nfx(home, ['add', 'table', 'ip', 't']);
    const file = path.join(home, 'netns', 'default.json');
    const before = fs.readFileSync(file, 'utf8');
    const res = await nfx(home, ['-f', '-'], 'add chain ip t c\nadd rule ip t nochain accept\n');
    assert.equal(res.status, 1);
    assert.equal(res.err, '/dev/stdin:2:15-21: Error: Could not process rule: No such file or directory\nadd rule ip t nochain accept\n              ^^^^^^^\n');
    assert.equal(fs.readFileSync(file, 'utf8'), before);
    // -c never writes either.
    assert.equal((await nfx(home, ['-c', 'add', 'chain', 'ip', 't', 'c'])).status, 0);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('nfx nft: usage errors exit 1 with nft\'s usage line', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nfx-nft-'));
  try {
    const res = await nfx(home, ['-Q']);
    assert.equal(res.status, 1);
    assert.match(res.err, /invalid option -- 'Q'\nUsage: nft/);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('nfx run: an nft here-document loads a ruleset into the host', async () => {
  const host = newHost('default');
  const handlers = builtinHandlers();
  handlers.set('nft', nftScriptHandler);
  let err = '';
  const script = `# a gateway
nft -f - <<'EOF'
table ip filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
		iifname "lan0" oifname "wan0" accept
	}
}
EOF
nft add rule ip filter forward ct state established accept
`;
  const res = await runScript(host, script, { file: 'gw.sh', handlers, io: { out: () => {}, err: (t) => { err += t; } }, readFile: (p) => fs.readFileSync(p, 'utf8') });
  assert.equal(res.status, 0, err);
  const r = loadRuleset(host);
  const chain = r.table(2, 'filter')?.chains.get('forward');
  assert.equal(chain?.rules.length, 2);
  assert.equal(chain?.policy, 0);

  const bad = await runScript(host, 'nft add rule ip filter nochain accept\n', { file: 'gw.sh', handlers, io: { out: () => {}, err: (t) => { err += t; } }, readFile: (p) => fs.readFileSync(p, 'utf8') });
  assert.equal(bad.status, 1);
  assert.match(err, /gw\.sh:1: Error: Could not process rule: No such file or directory/);
});

test('nfx run: iif names resolve to the host\'s interface indexes', async () => {
  const host = newHost('default');
  const handlers = builtinHandlers();
  handlers.set('nft', nftScriptHandler);
  let err = '';
  let out = '';
  const io = { out: (t: string) => { out += t; }, err: (t: string) => { err += t; } };
  const script = `ip link add lan0 type dummy
ip link add wan0 type dummy
nft add table ip t
nft add chain ip t c
nft add rule ip t c iif wan0 drop
nft --debug=netlink add rule ip t c iif lan0 accept
nft list chain ip t c
`;
  const res = await runScript(host, script, { file: 's', handlers, io, readFile: (p) => fs.readFileSync(p, 'utf8') });
  assert.equal(res.status, 0, err);
  const lan0 = host.links.find((l) => l.name === 'lan0')!.index;
  assert.match(out, new RegExp(`\\[ cmp eq reg 1 0x0000000${lan0} \\]`));
  assert.match(out, /\t\tiif "wan0" drop\n\t\tiif "lan0" accept\n/);
  // An interface the host does not have is refused, as nft refuses it.
  const bad = await runScript(host, 'nft add rule ip t c iif eth9 accept\n', { file: 's', handlers, io, readFile: (p) => fs.readFileSync(p, 'utf8') });
  assert.equal(bad.status, 1);
});
