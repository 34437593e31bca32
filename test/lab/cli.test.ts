import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runCommand } from '../../src/host/command.ts';
import {
  MIG,
  MIG_IP,
  OBSERVER,
  labStatus,
  nodewarden,
  nodewardenOk,
  repoRoot,
} from './lab-harness.ts';

/** The lab as a user meets it: status, exec, refusals, and the shape of the network. */
const lab = inject('lab');

describe.skipIf(lab.skip !== null)('lab command', () => {
  it('status --json lists the seed nodes, their namespaces and live stand-ins', async () => {
    const status = await labStatus(lab.dir);
    expect(status.phase).toBe('up');
    expect(status.subnet).toBe('10.62.0.0/24');
    expect(status.hub).toMatchObject({
      namespace: 'nw-hub',
      bridge: 'nwbr0',
      ip: '10.62.0.1',
      namespaceExists: true,
    });
    expect(status.nodes.map((n) => [n.name, n.role, n.ip])).toEqual([
      ['tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq', 'mig', '10.62.0.30'],
      ['tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7', 'worker', '10.62.0.10'],
      ['tkai-oks-md-0-193cfbbbb78b-5gblf-9f79t', 'worker', '10.62.0.11'],
      ['tkai-oks-md-0-193cfbbbb78b-5gblf-pkmt5', 'worker', '10.62.0.12'],
      ['tkai-oks-md-0-193cfbbbb78b-5gblf-wn4gb', 'worker', '10.62.0.13'],
    ]);
    for (const node of status.nodes) {
      expect(node).toMatchObject({
        namespace: `nw-${node.name}`,
        namespaceExists: true,
        link: 'up',
        faults: [],
      });
      expect(node.kubelet.state).toBe('running');
    }
    const table = await nodewardenOk(lab.dir, ['lab', 'status']);
    expect(table.stdout).toMatch(/tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq\s+mig\s+10\.62\.0\.30/);
    // Prometheus in the hub: the GPU simulator and the five agents as its targets (their health
    // is Prometheus's latest scrape, so only the count is asserted here).
    expect(status.prometheus).toMatchObject({
      url: 'http://10.62.0.1:9090',
      process: 'running',
      targets: { total: 6 },
    });
    expect(table.stdout).toMatch(
      /prometheus: pid \d+ running, http:\/\/10\.62\.0\.1:9090 \(in the hub\), targets \d\/6 up/,
    );
  });

  it('exec runs inside the node namespace and passes the exit status through', async () => {
    const addr = await nodewardenOk(lab.dir, [
      'lab',
      'exec',
      MIG,
      '--',
      'ip',
      '-j',
      'addr',
      'show',
      'eth0',
    ]);
    expect(addr.stdout).toContain('"local":"10.62.0.30"');
    const byIp = await nodewardenOk(lab.dir, [
      'lab',
      'exec',
      '10.62.0.10',
      '--',
      'ip',
      '-j',
      'route',
      'show',
      'default',
    ]);
    expect(byIp.stdout).toContain('"gateway":"10.62.0.1"');
    const failing = await nodewarden(lab.dir, [
      'lab',
      'exec',
      OBSERVER,
      '--',
      'sh',
      '-c',
      'exit 7',
    ]);
    expect(failing.code).toBe(7);
    const version = await nodewardenOk(lab.dir, [
      'lab',
      'exec',
      OBSERVER,
      '--',
      'nodewarden',
      '--version',
    ]);
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(version.stdout.trim()).toBe(`nodewarden ${pkg.version}`);
    const unknown = await nodewarden(lab.dir, ['lab', 'exec', 'tkai-oks-md-0', '--', 'true']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/"tkai-oks-md-0" matches 4 lab nodes/);
  });

  it('the stand-in answers 401 without the lab token and ok with it, over TLS from the lab CA', async () => {
    const token = (await readFile(join(lab.dir, 'token'), 'utf8')).trim();
    const ca = join(lab.dir, 'pki', 'ca.crt');
    const url = `https://${MIG_IP}:10250/healthz`;
    const anonymous = await nodewarden(lab.dir, [
      'lab',
      'exec',
      OBSERVER,
      '--',
      'curl',
      '-sS',
      '--cacert',
      ca,
      '-w',
      ' %{http_code}',
      url,
    ]);
    expect(anonymous.stdout).toBe('Unauthorized 401');
    const authorized = await nodewarden(lab.dir, [
      'lab',
      'exec',
      OBSERVER,
      '--',
      'curl',
      '-sS',
      '--cacert',
      ca,
      '-H',
      `Authorization: Bearer ${token}`,
      '-w',
      ' %{http_code}',
      url,
    ]);
    expect(authorized.stdout).toBe('ok 200');
  });

  it('nothing in the root namespace routes to the lab', async () => {
    const routes = await runCommand('ip', ['-j', 'route', 'show'], { timeoutMs: 5_000 });
    expect(routes.stdout).not.toContain('10.62.0.');
    const links = await runCommand('ip', ['-o', 'link', 'show'], { timeoutMs: 5_000 });
    expect(links.stdout).not.toMatch(/nwbr0|nwh-/);
    const hubLinks = await runCommand('ip', ['-n', 'nw-hub', '-o', 'link', 'show'], {
      timeoutMs: 5_000,
    });
    expect(hubLinks.stdout).toMatch(/nwbr0/);
    expect(hubLinks.stdout.match(/nwh-[a-z0-9]{5}@/g)).toHaveLength(5);
  });

  it('lab up again: fine when it matches, refused when it does not', async () => {
    const same = await nodewardenOk(lab.dir, ['lab', 'up', '--nodes', '5']);
    expect(same.stdout).toMatch(/lab already up: 5 nodes on 10\.62\.0\.0\/24/);
    const other = await nodewarden(lab.dir, ['lab', 'up', '--nodes', '3']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/a lab already exists in .* and does not match --nodes 3/);
    expect(other.stderr).toMatch(/→ run nodewarden lab down first/);
  });

  it('rejects bad flags before touching anything', async () => {
    const cases: [string[], RegExp][] = [
      [['lab', 'up', '--nodes', '1'], /--nodes 1 is out of range: the lab runs 2 to 64 nodes/],
      [['lab', 'up', '--nodes', 'many'], /--nodes "many" is not a whole number/],
      [['lab', 'up', '--subnet', '10.62.0.0/30'], /has prefix \/30; the lab needs \/16 to \/28/],
      [['lab', 'up', '--subnet', '10.62.0.7/24'], /not a network address/],
      [['lab', 'fault', MIG, 'loss', '0'], /loss needs a whole number from 1 to 100/],
      [['lab', 'fault', MIG, 'meltdown'], /unknown fault "meltdown"/],
      [['lab', 'frobnicate'], /unknown lab subcommand "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const run = await nodewarden(lab.dir, args);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.code, args.join(' ')).toBe(2);
    }
  });

  it('refuses to run without root and says why', async () => {
    const run = await runCommand(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        join(repoRoot, 'bin', 'nodewarden.js'),
        'lab',
        'up',
      ],
      { timeoutMs: 30_000 },
    );
    expect(run.stderr).toContain(
      'run as root (sudo nodewarden lab up): the lab creates network namespaces',
    );
    expect(run.code).toBe(2);
  });
});
