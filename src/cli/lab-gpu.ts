import { textTable } from '../audit/render.ts';
import { badInput } from '../core/errors.ts';
import { parseDuration } from '../gpu/gpu-control.ts';
import {
  gpuStatus,
  pickDevice,
  requireGpu,
  scriptGpu,
  type GpuAction,
  type GpuStatus,
} from '../lab/lab-gpu.ts';
import type { LabContext } from '../lab/lab.ts';
import { requireState, withLabLock } from '../lab/state.ts';
import { nodeSuffix, resolveNode } from '../lab/topology.ts';
import { EXIT_OK, intFlag, parseFlags, type Io } from './command.ts';

/** `lab gpu …` lines of `nodewarden lab --help`. */
export const LAB_GPU_HELP = `GPU simulators: every GPU node (the seed's MIG node: one A100 80GB as seven
1g.10gb MIG instances, GI 7–13) runs a DCGM-exporter-format simulator on
0.0.0.0:9400 in its namespace; its agent reads http://127.0.0.1:9400/metrics.
  lab gpu <node> status [--json]               script, and what the exporter serves now
  lab gpu <node> set <pct> [--gpu N] [--gi M]  framebuffer use jumps to pct
  lab gpu <node> ramp <from> <to> --over 60s [--gpu N] [--gi M]
                                               linear ramp from% → to%, then stays
  lab gpu <node> xid <code> [--gpu N] [--gi M] DCGM_FI_DEV_XID_ERRORS reports code
  lab gpu <node> hang on|off                   accept scrapes, never answer (wedged exporter)
Without --gpu/--gi the first device is scripted (the MIG node: GPU 0 GI 7).
The script lives in <lab dir>/gpu/<node>.json with absolute times, so a
restarted simulator continues a ramp where the clock puts it.
`;

function number(what: string, text: string | undefined, example: string): number {
  const value = text === undefined ? Number.NaN : Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(value)) {
    throw badInput(
      `lab gpu: ${what} ${text === undefined ? 'is missing' : `"${text}" is not a number`}`,
      example,
    );
  }
  return value;
}

function printGpuStatus(status: GpuStatus, io: Io): void {
  io.out(
    `GPU simulator of ${status.node} (${status.preset}): ${status.pid === null ? 'not running' : `pid ${status.pid} ${status.process}`}, ${status.url}` +
      `${status.hang ? ', HANGING' : ''}${status.scrapeError ? ` — scrape failed: ${status.scrapeError}` : ''}\n`,
  );
  const rows = status.devices.map((d) => [
    d.device.includes('/') ? `GPU ${d.device.replace('/', ' GI ')}` : `GPU ${d.device}`,
    `${d.scriptedPercent.toFixed(1)}%`,
    d.servedPercent === null ? '-' : `${d.servedPercent.toFixed(1)}%`,
    d.usedMiB === null || d.totalMiB === null ? '-' : `${d.usedMiB}/${d.totalMiB} MiB`,
    d.xid === 0 ? '-' : String(d.xid),
    d.script === null || (d.script.startMs === 0 && d.script.to === 0)
      ? 'idle'
      : d.script.overMs === 0
        ? `set ${d.script.to}% at ${new Date(d.script.startMs).toISOString()}`
        : `ramp ${d.script.from}% → ${d.script.to}% over ${d.script.overMs / 1000} s from ${new Date(d.script.startMs).toISOString()}`,
  ]);
  io.out(textTable(['DEVICE', 'SCRIPTED', 'SERVED', 'MEMORY', 'XID', 'SCRIPT'], rows));
}

/** `nodewarden lab gpu <node> <action> …`. */
export async function runLabGpu(ctx: LabContext, rest: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags('lab', rest, {
    over: { type: 'string' },
    gpu: { type: 'string' },
    gi: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const [query, action, ...args] = positionals;
  if (query === undefined || action === undefined) {
    throw badInput(
      'lab gpu needs a node and an action',
      'e.g. nodewarden lab gpu bkqzq ramp 0 45.5 --over 60s',
    );
  }
  const state = await requireState(ctx.dir);
  const node = resolveNode(state.nodes, query);
  const gpu = requireGpu(node, state.nodes);
  if (action === 'status') {
    if (args.length > 0)
      throw badInput(
        `lab gpu status takes no argument "${args.join(' ')}"`,
        'e.g. nodewarden lab gpu bkqzq status',
      );
    const status = await gpuStatus(node, gpu);
    if (values.json) io.out(JSON.stringify(status, null, 2) + '\n');
    else printGpuStatus(status, io);
    return EXIT_OK;
  }
  const expectArgs = (n: number, usage: string): void => {
    if (args.length !== n)
      throw badInput(
        `lab gpu ${action} takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`,
        `usage: nodewarden lab gpu ${nodeSuffix(node.name)} ${usage}`,
      );
  };
  let gpuAction: GpuAction;
  switch (action) {
    case 'set':
      expectArgs(1, 'set 45.5');
      gpuAction = {
        kind: 'set',
        percent: number('percent', args[0], 'e.g. lab gpu bkqzq set 45.5'),
      };
      break;
    case 'ramp':
      expectArgs(2, 'ramp 0 45.5 --over 60s');
      if (values.over === undefined)
        throw badInput(
          'lab gpu ramp needs --over <duration>',
          'e.g. lab gpu bkqzq ramp 0 45.5 --over 60s',
        );
      gpuAction = {
        kind: 'ramp',
        from: number('from', args[0], 'e.g. lab gpu bkqzq ramp 0 45.5 --over 60s'),
        to: number('to', args[1], 'e.g. lab gpu bkqzq ramp 0 45.5 --over 60s'),
        overMs: parseDuration(values.over, '--over'),
      };
      break;
    case 'xid':
      expectArgs(1, 'xid 79');
      gpuAction = { kind: 'xid', code: number('Xid', args[0], 'e.g. lab gpu bkqzq xid 79') };
      break;
    case 'hang':
      expectArgs(1, 'hang on');
      if (args[0] !== 'on' && args[0] !== 'off')
        throw badInput(`lab gpu hang ${args[0]}: say on or off`, 'e.g. lab gpu bkqzq hang on');
      gpuAction = { kind: 'hang', on: args[0] === 'on' };
      break;
    default:
      throw badInput(
        `unknown lab gpu action "${action}"`,
        'one of: status, set, ramp, xid, hang (nodewarden lab --help)',
      );
  }
  const device = pickDevice(
    gpu.preset,
    values.gpu === undefined ? null : intFlag('gpu', values.gpu, 0, 0, 63),
    values.gi === undefined ? null : intFlag('gi', values.gi, 0, 0, 63),
  );
  // Read-modify-write of the control file: one lab command at a time.
  await withLabLock(ctx.dir, () => scriptGpu(gpu, device, gpuAction, Date.now()));
  const what =
    gpuAction.kind === 'ramp'
      ? `framebuffer ${gpuAction.from}% → ${gpuAction.to}% over ${gpuAction.overMs / 1000} s`
      : gpuAction.kind === 'set'
        ? `framebuffer ${gpuAction.percent}%`
        : gpuAction.kind === 'xid'
          ? `Xid ${gpuAction.code}`
          : `hang ${gpuAction.on ? 'on' : 'off'}`;
  ctx.progress(
    `gpu ${node.name} ${gpuAction.kind === 'hang' ? 'exporter' : `GPU ${device.replace('/', ' GI ')}`}: ${what} (${gpu.controlFile})`,
  );
  return EXIT_OK;
}
