/**
 * `nodewarden audit` and `nodewarden policy` as a person runs them, through
 * the CLI dispatcher: on the seed cluster saved as a file, and through the
 * Kubernetes adapter against a loopback API server.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli as run } from '../../test/support/cli.ts';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { migLimitsPolicy } from './policy.ts';
import { MIG_NODE, SEED_FILE } from '../../test/fixtures/audit/builders.ts';
import { startFakeApiServer } from '../../test/fixtures/audit/fake-api-server.ts';

const row = (out: string, node: string) => out.split('\n').find((l) => l.startsWith(node)) ?? '';

describe('nodewarden audit', () => {
  it("prints the seed's Resource Information table for every node and exits 1 when a node is over a threshold", async () => {
    const r = await run('audit', '--from', SEED_FILE);
    expect(r.code).toBe(1);
    expect(r.err).toBe('');
    expect(r.out).toContain(
      'NODE                                    CPU req / lim     MEMORY req / lim  DISK req / lim',
    );
    expect(row(r.out, 'tkai-oks-md-0-193cfbbbb78b-5gblf-wn4gb')).toMatch(
      /^tkai-oks-md-0-193cfbbbb78b-5gblf-wn4gb +92\.5%! \/ 582\.8%! +81\.5% \/ 345\.5%! +48% \/ 120% +- +- +10\/110 +cpu requests > 90%; cpu limits > 200%; memory limits > 150%$/,
    );
    expect(row(r.out, MIG_NODE)).toMatch(
      /13\.9% \/ 70\.8% +7\.5% \/ 21\.2% +75\.5% \/ 125% +- +1g\.10gb 3\/7 +14\/110 +-$/,
    );
    expect(r.out).toContain('4 of 5 node(s) over the thresholds');
  });

  it('takes thresholds from flags, and exits 0 when nothing crosses them', async () => {
    const r = await run(
      'audit',
      '--from',
      SEED_FILE,
      '--cpu-limit-threshold',
      '600',
      '--memory-limit-threshold',
      '400',
      '--request-threshold',
      '95',
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      'No node over the thresholds (thresholds: CPU limits 600%, memory limits 400%, requests 95%',
    );
  });

  it('writes Markdown with flagged shares in bold, and JSON', async () => {
    const md = await run('audit', '--from', SEED_FILE, '--format', 'md');
    expect(md.out).toContain('| node | cpu req / lim | memory req / lim |');
    expect(md.out).toContain(
      '| tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7 | 81.2% / **301.6%** | 56.5% / 139.3% |',
    );
    const json = await run('audit', '--from', SEED_FILE, '--format', 'json');
    const parsed = JSON.parse(json.out) as { source: string; nodes: unknown[]; flagged: string[] };
    expect(parsed.source).toBe(SEED_FILE);
    expect(parsed.nodes).toHaveLength(5);
    expect(parsed.flagged).toHaveLength(4);
  });

  it('--fail predicts the loss of the MIG node: survivors before → after, MIG pods Pending with the reason', async () => {
    const r = await run('audit', '--from', SEED_FILE, '--fail', MIG_NODE);
    expect(r.code).toBe(1);
    expect(row(r.out, 'tkai-oks-md-0-193cfbbbb78b-5gblf-9f79t')).toMatch(
      / {2}83\.1% \/ 335\.9%! → 90\.6%! \/ 390\.9%! +54\.6% \/ 170\.5%! → 57\.7% \/ 183%! +42% \/ 105% → 58% \/ 145% +\+4 +cpu requests > 90%$/,
    );
    expect(r.out).toContain(
      "2 pod(s): 0/4 nodes have nvidia.com/mig-1g.10gb; 0/4 nodes are available: 4 Insufficient nvidia.com/mig-1g.10gb, 4 node(s) didn't match Pod's node affinity/selector.",
    );
    // The fine-tuning Job's init container also needs 83Gi of disk that no survivor has free.
    expect(r.out).toContain(
      "1 pod(s): 0/4 nodes have nvidia.com/mig-1g.10gb; 0/4 nodes are available: 4 Insufficient ephemeral-storage, 4 Insufficient nvidia.com/mig-1g.10gb, 4 node(s) didn't match Pod's node affinity/selector.",
    );
    expect(r.out).toContain('Moved (8)');
    expect(r.out).toContain('bare pod: no controller recreates it: default/debug-shell');
    expect(r.out).toContain(
      'tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7: memory limits 139.3% → 151.8% (> 150%, crossed by the loss)',
    );
    const json = JSON.parse(
      (await run('audit', '--from', SEED_FILE, '--fail', MIG_NODE, '--format', 'json')).out,
    ) as {
      placements: unknown[];
      pending: unknown[];
    };
    expect([json.placements.length, json.pending.length]).toEqual([8, 3]);
  });

  it('reads the cluster through the Kubernetes adapter with --kubeconfig', async () => {
    const items = (parse(await readFile(SEED_FILE, 'utf8')) as { items: Record<string, unknown>[] })
      .items;
    const server = await startFakeApiServer(items);
    try {
      const r = await run(
        'audit',
        '--kubeconfig',
        server.kubeconfig,
        '--fail',
        MIG_NODE,
        '--format',
        'md',
      );
      expect(r.err).toBe('');
      expect(r.code).toBe(1);
      expect(r.out).toContain(`## What if ${MIG_NODE} dies?`);
      expect(r.out).toContain('0/4 nodes have nvidia.com/mig-1g.10gb');
      expect(server.requests.filter((p) => p.startsWith('/api/v1/pods?limit='))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('audit mig lists GPU workloads to fix, grouped by namespace, with the patch', async () => {
    const r = await run('audit', 'mig', '--from', SEED_FILE);
    expect(r.code).toBe(1);
    expect(r.out).toContain('3 GPU/MIG pod(s), 0 compliant, 2 workload(s) to fix');
    expect(r.out).toContain(
      'namespace ml-serving\n  Deployment mig-inference — 2 pod(s), nvidia.com/mig-1g.10gb: 1, QoS Burstable, no PriorityClass',
    );
    expect(r.out).toContain(
      '# kubectl -n ml-serving patch deployment mig-inference --patch-file nodewarden-fix.yaml',
    );
    const only = await run(
      'audit',
      'mig',
      '--from',
      SEED_FILE,
      '--namespace',
      'ml-training',
      '--priority-class',
      'batch-gpu',
      '--format',
      'md',
    );
    expect(only.out).not.toContain('mig-inference');
    expect(only.out).toContain('#### Job mig-finetune-29257440');
    expect(only.out).toContain('priorityClassName: batch-gpu');
    const none = await run('audit', 'mig', '--from', SEED_FILE, '--namespace', 'data');
    expect([none.code, none.out.trim().split('\n').at(-1)]).toEqual([0, 'Nothing to fix.']);
  });

  it.each([
    [
      ['--format', 'xml'],
      '--format "xml" is not one of table, json, md',
      'pass --format table, md or json',
    ],
    [['--kubeconfig', '/k', '--from', 'c.yaml'], '--kubeconfig and --from both given', 'not both'],
    [
      ['--fail', 'ghost'],
      '"ghost" is not a node of this cluster',
      'nodes are: tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7,',
    ],
    [['--fail', ','], '--fail needs a node name', 'e.g. --fail'],
    [
      ['--cpu-limit-threshold', 'lots'],
      '--cpu-limit-threshold "lots" is not a whole number from 1 to 100000',
      'pass e.g. --cpu-limit-threshold 200',
    ],
    [['capacity'], 'unexpected argument "capacity"', 'nodewarden audit mig'],
    [['--nodes', 'a'], "Unknown option '--nodes'", 'see: nodewarden audit --help'],
    [
      ['mig', '--limit-ratio', '0'],
      '--limit-ratio "0" is not a whole number from 1 to 1000',
      '--limit-ratio 3',
    ],
    [
      ['mig', '--default-cpu=-1'],
      '--default-cpu "-1" is not a positive Kubernetes quantity',
      '--default-cpu 1',
    ],
    [
      ['mig', '--priority-class', 'GPU_High'],
      '--priority-class "GPU_High" is not a valid PriorityClass name',
      'gpu-workload',
    ],
    [['mig', 'extra'], 'unexpected argument "extra"', 'takes only options'],
    [
      ['mig', '--fail', 'x'],
      '--fail does not apply to nodewarden audit mig',
      'see: nodewarden audit --help',
    ],
    [
      ['--limit-ratio', '2'],
      '--limit-ratio does not apply to nodewarden audit',
      'see: nodewarden audit --help',
    ],
  ])('audit %j exits 2: %s', async (args, message, hint) => {
    const r = await run('audit', '--from', SEED_FILE, ...args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`nodewarden audit: ${message}`);
    expect(r.err).toContain(`→ `);
    expect(r.err).toContain(hint);
  });

  it('exits 2 naming a cluster file it cannot read', async () => {
    const r = await run('audit', '--from', '/nonexistent/cluster.yaml');
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'nodewarden audit: cannot read cluster file /nonexistent/cluster.yaml: ENOENT\n  → save one with: kubectl get nodes,pods -A -o yaml > cluster.yaml\n',
    );
  });

  it('is listed by nodewarden --help and teaches with audit --help', async () => {
    const top = await run('--help');
    expect(top.out).toMatch(/\n {2}audit +requests\/limits per node/);
    expect(top.out).toMatch(/\n {2}policy +admission policy for MIG\/GPU pods/);
    const help = await run('audit', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('nodewarden audit --fail <node>[,<node>…]');
    expect(help.out).toContain('kubectl get nodes,pods -A -o yaml > cluster.yaml');
  });
});

describe('nodewarden policy', () => {
  it('prints the mig-limits policy (warn, limits, workloads) by default', async () => {
    const r = await run('policy', 'mig-limits');
    expect(r.code).toBe(0);
    expect(r.out).toBe(migLimitsPolicy().yaml);
  });

  it('writes deny + Guaranteed, pods only, no exclusions, to --out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodewarden-policy-'));
    const file = join(dir, 'mig-limits.yaml');
    const r = await run(
      'policy',
      'mig-limits',
      '--mode',
      'deny',
      '--require-guaranteed',
      '--pods-only',
      '--exclude-namespaces',
      '',
      '--out',
      file,
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `wrote 2 objects (1 policies, 1 bindings) to ${file}; apply with: kubectl apply -f ${file}\n`,
    );
    const written = await readFile(file, 'utf8');
    expect(written).toBe(
      migLimitsPolicy({
        mode: 'deny',
        requireGuaranteed: true,
        workloads: false,
        excludeNamespaces: [],
      }).yaml,
    );
    expect(written).toContain('validationActions:\n    - Deny');
    expect(written).not.toContain('namespaceSelector');
  });

  it.each([
    [[], 'missing the policy to write', 'e.g. nodewarden policy mig-limits'],
    [
      ['pod-security'],
      'unknown policy "pod-security"',
      'the policy NodeWarden writes is mig-limits',
    ],
    [
      ['mig-limits', '--mode', 'audit'],
      '--mode "audit" is neither warn nor deny',
      '--mode deny (reject)',
    ],
    [
      ['mig-limits', '--name', 'Bad_Name'],
      'policy name "Bad_Name" is not a valid Kubernetes object name',
      'e.g. nodewarden-mig-limits',
    ],
    [
      ['mig-limits', '--out', '/nonexistent/dir/p.yaml'],
      'cannot write /nonexistent/dir/p.yaml: ENOENT',
      'writable directory',
    ],
  ])('policy %j exits 2: %s', async (args, message, hint) => {
    const r = await run('policy', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`nodewarden policy: ${message}`);
    expect(r.err).toContain(hint);
  });
});
