import { describe, expect, it } from 'vitest';
import { auditCapacity } from '../core/capacity.ts';
import { predictNodeLoss } from '../core/whatif.ts';
import { markdownTable, renderCapacity, renderWhatIf, textTable } from './render.ts';
import { node, pod } from '../../test/fixtures/audit/builders.ts';

describe('tables', () => {
  it('pads every column but the last, kubectl style', () => {
    expect(
      textTable(
        ['A', 'LONG HEADER', 'Z'],
        [
          ['wide cell', 'x', 'last'],
          ['b', 'y', ''],
        ],
      ),
    ).toBe('A          LONG HEADER  Z\nwide cell  x            last\nb          y\n');
  });

  it('escapes pipes in Markdown cells', () => {
    expect(markdownTable(['a', 'b'], [['x|y', 'z']])).toBe('| a | b |\n|---|---|\n| x\\|y | z |\n');
  });
});

describe('the capacity table', () => {
  const gpuNode = node(
    'gpu-1',
    {
      cpu: '64',
      memory: '512Gi',
      pods: '110',
      'nvidia.com/gpu': '8',
      'nvidia.com/mig-1g.10gb': '7',
      'nvidia.com/mig-3g.40gb': '2',
    },
    { unschedulable: true },
  );
  const pods = [
    pod('train', {
      nodeName: 'gpu-1',
      limits: { cpu: '8', memory: '64Gi', 'nvidia.com/gpu': '2' },
    }),
    pod('infer', {
      nodeName: 'gpu-1',
      limits: { cpu: '1', memory: '8Gi', 'nvidia.com/mig-1g.10gb': '3' },
    }),
  ];

  it('shows GPUs and each MIG profile as used/allocatable, no disk when the node has none, and a cordon', () => {
    const out = renderCapacity(auditCapacity([gpuNode], pods), 'table', 'test');
    const row = out.split('\n').find((l) => l.startsWith('gpu-1')) ?? '';
    expect(row).toMatch(
      /^gpu-1 \(cordoned\) +14\.1% \/ 14\.1% +14\.1% \/ 14\.1% +- +2\/8 +1g\.10gb 3\/7, 3g\.40gb 0\/2 +2\/110 +-$/,
    );
    expect(out).toContain('No node over the thresholds');
  });

  it('says whether the survivors absorb a loss, and what is left Pending', () => {
    const spare = node('spare', { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/gpu': '8' });
    const out = renderWhatIf(predictNodeLoss([gpuNode, spare], pods, ['gpu-1']), 'table', 'test');
    expect(out).toContain('Moved (1)');
    expect(out).toContain('Pending (1)');
    expect(out).toContain('0/1 nodes have nvidia.com/mig-1g.10gb');
    expect(out).toContain(
      'No survivor that receives pods goes over the thresholds (thresholds: CPU limits 200%, memory limits 150%, requests 90%, GPU/MIG 100%), but 1 pod(s) have nowhere to go (Pending above).',
    );
    const roomy = renderWhatIf(
      predictNodeLoss([gpuNode, spare], [pods[0]!], ['gpu-1']),
      'md',
      'test',
    );
    expect(roomy).toContain('The survivors absorb the loss within the thresholds');
    expect(roomy).toContain(
      '| node | cpu req / lim | memory req / lim | disk req / lim | +pods | new flags |',
    );
  });
});
