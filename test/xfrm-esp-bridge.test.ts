/**
 * SAD entries become ESP engine SAs: every mode and algorithm family that
 * `ip xfrm` accepts constructs an EspSa with the same addresses, mode, replay
 * window and starting sequence numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, Xfrm, ipXfrm } from '../src/xfrm/index.js';
import { espSaConfigFromXfrm } from '../src/xfrm/esp-bridge.js';
import { createEspSa } from '../src/xfrm/esp/index.js';

test('SAs configured with ip xfrm construct ESP engine SAs', () => {
  const x = new Xfrm({ clock: new ManualClock(0) });
  const lines: string[][] = [
    ['state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '0x100', 'mode', 'tunnel', 'aead', 'rfc4106(gcm(aes))', '0x' + '01'.repeat(20), '128'],
    ['state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '0x101', 'mode', 'transport', 'replay-window', '128', 'flag', 'esn', 'replay-seq', '7',
      'auth', 'sha256', '0x' + '02'.repeat(32), 'enc', 'aes', '0x' + '03'.repeat(16), 'encap', 'espinudp', '4500', '4500', '0.0.0.0'],
    ['state', 'add', 'src', '2001:db8::1', 'dst', '2001:db8::2', 'proto', 'esp', 'spi', '0x102', 'mode', 'beet', 'aead', 'rfc7539esp(chacha20,poly1305)', '0x' + '11'.repeat(36), '128',
      'sel', 'src', '10.0.0.1/32', 'dst', '10.0.0.2/32'],
    ['state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '0x103', 'mode', 'tunnel', 'enc', 'cipher_null', '', 'auth-trunc', 'xcbc(aes)', '0x' + '04'.repeat(16), '96'],
  ];
  for (const l of lines) assert.equal(ipXfrm(l, x).status, 0, l.join(' '));
  const got = x.sad.states.map((sa) => {
    const e = createEspSa(espSaConfigFromXfrm(sa));
    return [sa.spi, e.mode, e.family, e.innerFamily, e.replay.window, e.replay.seq, e.encap !== null];
  });
  assert.deepEqual(got, [
    [0x103, 'tunnel', 4, 4, 0, 0, false],
    [0x102, 'beet', 6, 4, 0, 0, false],
    [0x101, 'transport', 4, 4, 128, 7, true],
    [0x100, 'tunnel', 4, 4, 0, 0, false],
  ]);
});
