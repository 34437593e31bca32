import { describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import {
  conflictingFault,
  describeFault,
  firewallScript,
  isMissingNetem,
  parseFault,
  type FaultSpec,
} from './faults.ts';
import { planLab } from './topology.ts';

const nodes = planLab(5, '10.62.0.0/24').nodes;
const mig = nodes[0]!;

function parseError(args: string[]): NodeWardenError {
  try {
    parseFault(args, nodes, mig);
  } catch (error) {
    expect(error).toBeInstanceOf(NodeWardenError);
    return error as NodeWardenError;
  }
  throw new Error(`expected ${args.join(' ')} to be refused`);
}

describe('parseFault', () => {
  it('parses every fault', () => {
    expect(parseFault(['link-down'], nodes, mig)).toEqual({ kind: 'link-down' });
    expect(parseFault(['kubelet-hang'], nodes, mig)).toEqual({ kind: 'kubelet-hang' });
    expect(parseFault(['loss', '100'], nodes, mig)).toEqual({ kind: 'loss', percent: 100 });
    expect(parseFault(['delay', '250'], nodes, mig)).toEqual({ kind: 'delay', ms: 250 });
    expect(parseFault(['power-off'], nodes, mig)).toEqual({ kind: 'power-off' });
    expect(parseFault(['kernel-panic'], nodes, mig)).toEqual({ kind: 'kernel-panic' });
    expect(parseFault(['loss-above-gpu', '30', '40'], nodes, mig)).toEqual({
      kind: 'loss-above-gpu',
      percent: 30,
      gpuPercent: 40,
    });
    expect(parseFault(['partition', '85zt7,10.62.0.11,85zt7'], nodes, mig)).toEqual({
      kind: 'partition',
      observers: [
        { name: 'tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7', ip: '10.62.0.10' },
        { name: 'tkai-oks-md-0-193cfbbbb78b-5gblf-9f79t', ip: '10.62.0.11' },
      ],
    });
  });

  it('refuses bad arguments with a hint', () => {
    expect(parseError(['explode']).message).toBe('unknown fault "explode"');
    expect(parseError(['loss']).message).toMatch(/loss needs a whole number from 1 to 100/);
    expect(parseError(['loss', '0']).message).toMatch(/not "0"/);
    expect(parseError(['loss', '101']).message).toMatch(/not "101"/);
    expect(parseError(['loss', '2.5']).message).toMatch(/not "2.5"/);
    expect(parseError(['delay', '-1']).message).toMatch(/delay needs/);
    expect(parseError(['link-down', 'now']).message).toMatch(/too many arguments for link-down/);
    expect(parseError(['partition']).message).toMatch(/needs the observers/);
    expect(parseError(['partition', 'bkqzq']).message).toMatch(/cannot name the node itself/);
    expect(parseError(['partition', 'nope']).message).toMatch(/no lab node matches "nope"/);
    expect(parseError([]).hint).toMatch(/link-down \| kubelet-stop/);
    expect(parseError(['loss-above-gpu', '30']).message).toMatch(
      /loss-above-gpu GPU memory needs a whole number from 0 to 100/,
    );
    expect(parseError(['loss-above-gpu', '0', '40']).message).toMatch(/loss-above-gpu loss needs/);
    expect(parseError(['loss-above-gpu', '30', '40', 'x']).message).toMatch(
      /too many arguments for loss-above-gpu: x/,
    );
  });
});

describe('firewallScript', () => {
  it('loss-above-gpu: a drop rule gated on a set that starts empty', () => {
    const script = firewallScript([{ kind: 'loss-above-gpu', percent: 30, gpuPercent: 40 }], 10250);
    expect(script).toContain('  set gpu_gate {\n    type ether_type;\n  }');
    expect(script).toContain('ether type @gpu_gate numgen random mod 100 < 30 drop');
    expect(script).toContain('type filter hook ingress device "eth0" priority 0; policy accept;');
  });

  it('with no faults only clears the lab tables, so healing leaves nothing behind', () => {
    expect(firewallScript([], 10250)).toBe(
      'table inet nodewarden\ndelete table inet nodewarden\ntable netdev nodewarden\ndelete table netdev nodewarden\n',
    );
  });

  it('drops tcp/10250 on input for block-kubelet-port', () => {
    const script = firewallScript([{ kind: 'block-kubelet-port' }], 10250);
    expect(script).toContain('type filter hook input priority 0; policy accept;');
    expect(script).toContain('tcp dport 10250 drop');
    expect(script).not.toContain('table netdev nodewarden {');
  });

  it('drops a random share of every inbound frame for loss, and all of them at 100 %', () => {
    expect(firewallScript([{ kind: 'loss', percent: 30 }], 10250)).toContain(
      'numgen random mod 100 < 30 drop',
    );
    const all = firewallScript([{ kind: 'loss', percent: 100 }], 10250);
    expect(all).toContain('hook ingress device "eth0"');
    expect(all).not.toContain('numgen');
    expect(all).toMatch(/\n {4}drop\n/);
  });

  it('drops IP and ARP from the named observers only for partition, beside other faults', () => {
    const faults: FaultSpec[] = [
      { kind: 'block-kubelet-port' },
      {
        kind: 'partition',
        observers: [
          { name: 'a', ip: '10.62.0.10' },
          { name: 'b', ip: '10.62.0.11' },
        ],
      },
    ];
    const script = firewallScript(faults, 10250);
    expect(script).toContain('ip saddr { 10.62.0.10, 10.62.0.11 } drop');
    expect(script).toContain('arp saddr ip { 10.62.0.10, 10.62.0.11 } drop');
    expect(script).toContain('tcp dport 10250 drop');
  });

  it('drops every frame in and out of eth0 for kernel-panic, leaving the link alone', () => {
    const script = firewallScript([{ kind: 'kernel-panic' }], 10250);
    expect(script).toContain('chain panic_in {\n    type filter hook ingress device "eth0"');
    expect(script).toContain('chain panic_out {\n    type filter hook egress device "eth0"');
    expect(script.match(/\n {4}drop\n/g)).toHaveLength(2);
    expect(firewallScript([{ kind: 'power-off' }], 10250)).toBe(firewallScript([], 10250));
  });
});

describe('conflictingFault', () => {
  it('refuses the same fault twice and stop with hang', () => {
    expect(
      conflictingFault([{ kind: 'loss', percent: 5 }], { kind: 'loss', percent: 9 })?.kind,
    ).toBe('loss');
    expect(conflictingFault([{ kind: 'kubelet-stop' }], { kind: 'kubelet-hang' })?.kind).toBe(
      'kubelet-stop',
    );
    expect(conflictingFault([{ kind: 'link-down' }], { kind: 'block-kubelet-port' })).toBeNull();
  });

  it('lets nothing onto a powered-off or panicked node, and either onto a faulty one', () => {
    expect(conflictingFault([{ kind: 'power-off' }], { kind: 'link-down' })?.kind).toBe(
      'power-off',
    );
    expect(conflictingFault([{ kind: 'kernel-panic' }], { kind: 'power-off' })?.kind).toBe(
      'kernel-panic',
    );
    expect(conflictingFault([{ kind: 'link-down' }], { kind: 'kernel-panic' })).toBeNull();
  });
});

describe('describeFault and isMissingNetem', () => {
  it('describes faults for status lines', () => {
    expect(describeFault({ kind: 'loss', percent: 30 })).toBe('loss 30%');
    expect(
      describeFault({ kind: 'partition', observers: [{ name: nodes[1]!.name, ip: nodes[1]!.ip }] }),
    ).toBe('partition from 85zt7');
  });

  it('recognises tc telling us the kernel has no netem', () => {
    expect(isMissingNetem('Error: Specified qdisc kind is unknown.')).toBe(true);
    expect(isMissingNetem('Error: Exclusivity flag on, cannot modify.')).toBe(false);
  });
});
