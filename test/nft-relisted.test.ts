/**
 * The listed-form check of the conformance run (FORMAT.md §3 step 5) compares some listed
 * forms with the bytecode the real nft 1.0.6 binary prints for them rather than with the
 * corpus payload of the original rule, because nft itself gives different bytecode there
 * (`counter packets 2 bytes 1` lists as `counter`; `log level warn` as `log`; a mask lists as
 * a prefix). This test keeps that fixture honest: every entry must still be what the binary
 * prints, and what nfx prints. Needs /usr/sbin/nft and network namespaces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compileRuleText, debugNetlinkLines } from '../src/nft/index.js';
import { payloadShape } from '../src/nft/conformance/corpus.js';
import type { Family } from '../src/nft/ast.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.resolve(here, '..', '..', 'test', 'fixtures', 'nft-relisted-binary.json');

test('listed forms whose bytecode nft 1.0.6 itself changes: fixture = binary = nfx', (t) => {
  const truth: Record<string, string[]> = JSON.parse(fs.readFileSync(fixture, 'utf8'));
  // nfx must agree with the recorded binary output whether or not nft is here.
  for (const [key, want] of Object.entries(truth)) {
    const [family, listed] = key.split('|') as [Family, string];
    const c = compileRuleText(listed, { family, table: 't', chain: 'c' });
    assert.deepEqual(payloadShape(debugNetlinkLines(c, family, 't', 'c')).exprs, want, key);
  }
  if (spawnSync('/usr/sbin/nft', ['--version']).status !== 0) { t.skip('nft not installed'); return; }
  const ns = `nfxrelisted${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) { t.skip('cannot create a network namespace'); return; }
  try {
    for (const [key, want] of Object.entries(truth)) {
      const [family, listed] = key.split('|') as [Family, string];
      const hook = family === 'netdev' ? 'type filter hook ingress device lo priority 0' : 'type filter hook input priority 0';
      execFileSync('ip', ['netns', 'exec', ns, '/usr/sbin/nft', '-f', '-'], { input: `add table ${family} t\nadd chain ${family} t c { ${hook}; }\n` });
      // The bytecode is printed before the kernel answers (bridge reject needs a module).
      const r = spawnSync('ip', ['netns', 'exec', ns, '/usr/sbin/nft', '--debug=netlink', 'add', 'rule', family, 't', 'c', listed], { encoding: 'utf8' });
      execFileSync('ip', ['netns', 'exec', ns, '/usr/sbin/nft', 'delete', 'table', family, 't']);
      assert.deepEqual(payloadShape(r.stdout.split('\n')).exprs, want, key);
    }
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});
