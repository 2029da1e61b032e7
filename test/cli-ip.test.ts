/** `nfx ip`, `nfx sysctl`, `nfx netns` through main(): output, exit statuses, persistence only on success. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../src/cli/commands/index.js';
import type { CliContext } from '../src/cli/context.js';

function cli(home: string, netns = 'default') {
  return async (...argv: string[]) => {
    let out = '', err = '';
    const ctx: CliContext = { netns, home, stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, readStdin: async () => new Uint8Array() };
    const status = await commands.get(argv[0]!)!.run(argv.slice(1), ctx);
    return { status, out, err };
  };
}

test('ip addr show prints iproute2 lines; abbreviations work', async () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-cli-'));
  try {
    const nfx = cli(home);
    assert.equal((await nfx('ip', 'link', 'add', 'eth0', 'address', '02:00:00:00:00:01', 'type', 'veth', 'peer', 'name', 'eth1')).status, 0);
    await nfx('ip', 'link', 'set', 'eth0', 'up');
    await nfx('ip', 'a', 'add', '192.0.2.1/24', 'brd', '+', 'dev', 'eth0');
    const r = await nfx('ip', 'addr', 'sh', 'dev', 'eth0');
    assert.equal(r.out,
      '3: eth0@eth1: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default qlen 1000\n' +
      '    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff\n' +
      '    inet 192.0.2.1/24 brd 192.0.2.255 scope global eth0\n' +
      '       valid_lft forever preferred_lft forever\n');
    assert.equal((await nfx('ip', 'ro')).out, '192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.1 linkdown \n');
    assert.deepEqual(JSON.parse((await nfx('ip', '-j', 'r', 'get', '192.0.2.1')).out), [
      { type: 'local', dst: '192.0.2.1', dev: 'lo', prefsrc: '192.0.2.1', flags: [], uid: 0, cache: ['local'] }]);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('a failing command prints the iproute2 error, exits with its status and saves nothing', async () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-cli-'));
  try {
    const nfx = cli(home);
    assert.deepEqual(await nfx('ip', 'addr', 'add', '10.0.0.1/24', 'dev', 'eth9'), { status: 1, out: '', err: 'Cannot find device "eth9"\n' });
    await nfx('ip', 'link', 'add', 'd0', 'type', 'dummy');
    await nfx('ip', 'link', 'set', 'd0', 'up');
    await nfx('ip', 'route', 'add', '10.0.0.0/8', 'dev', 'd0');
    assert.deepEqual(await nfx('ip', 'route', 'add', '10.0.0.0/8', 'dev', 'd0'), { status: 2, out: '', err: 'RTNETLINK answers: File exists\n' });
    assert.deepEqual(await nfx('ip', 'route', 'add', '10.1.0.0/16', 'via', '192.0.2.9'), { status: 2, out: '', err: 'Error: Nexthop has invalid gateway.\n' });
    assert.equal((await nfx('ip', 'foo')).err, 'Object "foo" is unknown, try "ip help".\n');
    // ip xfrm: state saved between invocations; keys only with -s (nfx's rule for secrets).
    const key = '0x0102030405060708090a0b0c0d0e0f1011121314';
    assert.equal((await nfx('ip', 'xfrm', 'state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '0x100', 'mode', 'tunnel', 'aead', 'rfc4106(gcm(aes))', key, '128')).status, 0);
    const plain = (await nfx('ip', 'xfrm', 'state')).out;
    assert.match(plain, /^src 192\.0\.2\.1 dst 192\.0\.2\.2\n\tproto esp spi 0x00000100 /);
    assert.doesNotMatch(plain, /0102030405060708/);
    assert.match(plain, /aead rfc4106\(gcm\(aes\)\) <<Keys hidden>> 128/);
    assert.match((await nfx('ip', '-s', 'xfrm', 'state')).out, /aead rfc4106\(gcm\(aes\)\) 0x0102030405060708090a0b0c0d0e0f1011121314 \(160 bits\) 128/);
    assert.equal((await nfx('ip', 'xfrm', 'state', 'count')).out, '\t SAD count 1\n');
    assert.equal((await nfx('ip', 'route', 'show')).out, '10.0.0.0/8 dev d0 scope link \n');
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('sysctl and netns commands', async () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-cli-'));
  try {
    assert.equal((await cli(home)('netns', 'add', 'gw')).status, 0);
    const gw = cli(home, 'gw');
    assert.equal((await gw('sysctl', '-w', 'net.ipv4.ip_forward=1')).out, 'net.ipv4.ip_forward = 1\n');
    assert.equal((await gw('sysctl', 'net.ipv4.ip_forward')).out, 'net.ipv4.ip_forward = 1\n');
    assert.equal((await cli(home)('sysctl', 'net.ipv4.ip_forward')).out, 'net.ipv4.ip_forward = 0\n');
    assert.equal((await cli(home)('netns', 'list')).out, 'default\ngw\n');
    assert.equal((await cli(home, 'nope')('ip', 'link')).status, 1);
  } finally { rmSync(home, { recursive: true, force: true }); }
});
