import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NFX = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function cli(home: string) {
  return (...args: string[]) => {
    const r = spawnSync(process.execPath, [NFX, ...args], { encoding: 'utf8', env: { ...process.env, NFX_HOME: home } });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };
}

test('conntrack -L lists what inject left, as conntrack-tools does; -C counts; -F empties and is saved', () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-ct-'));
  try {
    const nfx = cli(home);
    for (const line of [
      ['ip', 'link', 'add', 'wan0', 'type', 'dummy'], ['ip', 'link', 'set', 'wan0', 'up'], ['ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'wan0'],
      ['nft', 'add table ip f; add chain ip f in { type filter hook input priority 0; policy accept; }; add rule ip f in ct state new counter'],
    ]) assert.equal(nfx(...line).status, 0, line.join(' '));
    assert.equal(nfx('inject', '--iif', 'wan0', 'IP(src="192.0.2.9",dst="192.0.2.1")/UDP(sport=5000,dport=53)').status, 0);
    const list = nfx('conntrack', '-L');
    assert.equal(list.status, 0);
    assert.equal(list.out, 'udp      17 30 src=192.0.2.9 dst=192.0.2.1 sport=5000 dport=53 [UNREPLIED] src=192.0.2.1 dst=192.0.2.9 sport=53 dport=5000 mark=0 use=1\n');
    assert.equal(list.err, 'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n');
    assert.equal(nfx('conntrack', '--count').out, '1\n');
    assert.equal(nfx('conntrack', '-F').status, 0);
    assert.equal(nfx('conntrack', '-C').out, '0\n');
    assert.equal(nfx('conntrack', '-X').status, 2);
    assert.equal(nfx('conntrack').status, 2);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
