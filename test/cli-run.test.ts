/** `nfx run FILE`: all-or-nothing, the failing line named. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../src/cli/commands/index.js';
import type { CliContext } from '../src/cli/context.js';

async function nfx(home: string, ...argv: string[]) {
  let out = '', err = '';
  const ctx: CliContext = { netns: 'default', home, stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, readStdin: async () => new Uint8Array() };
  const status = await commands.get(argv[0]!)!.run(argv.slice(1), ctx);
  return { status, out, err };
}

test('a script that succeeds is saved; one that fails changes nothing and names its line', async () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-run-'));
  try {
    const good = join(home, 'good.sh');
    writeFileSync(good, '# gateway\nip link add lan0 type veth \\\n   peer name lan1\nip link set lan0 up\nsysctl -w net.ipv4.ip_forward=1\nip addr add 192.168.1.1/24 dev lan0\n');
    const r = await nfx(home, 'run', good);
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out, 'net.ipv4.ip_forward = 1\n');
    const bad = join(home, 'bad.sh');
    writeFileSync(bad, 'ip link add wan0 type veth peer name wan1\nip addr add 192.168.1.1/24 dev lan0\n');
    const f = await nfx(home, 'run', bad);
    assert.equal(f.status, 2);
    assert.equal(f.err, `${bad}:2: Error: ipv4: Address already assigned.\n`);
    const links = (await nfx(home, 'ip', '-j', 'link')).out;
    assert.ok(!links.includes('wan0'), 'the failed script left nothing behind');
    assert.ok(links.includes('lan0'));
  } finally { rmSync(home, { recursive: true, force: true }); }
});
