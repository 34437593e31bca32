/**
 * The Kubernetes Job that puts GPU memory load on one node: pinned to the
 * node, requesting its smallest MIG slice (or one whole GPU), Guaranteed QoS
 * (it passes `nodewarden policy mig-limits`), never retried, and carrying the
 * load plan twice — as the environment of the default load program, and as
 * a pod annotation the lab's kubelet stand-in turns into a simulated GPU ramp.
 */
import type { NodeSnapshot } from '../core/cluster.ts';
import { badInput } from '../core/errors.ts';
import { parseQuantity } from '../core/quantity.ts';
import type { LoadStep, StabilityProfile } from '../core/stability.ts';

/** Pod annotation with the load plan (JSON `StabilityPlanAnnotation`). */
export const PLAN_ANNOTATION = 'nodewarden.io/stability-plan';
export const JOB_LABEL = 'nodewarden.io/stability-test';

export interface StabilityPlanAnnotation {
  readonly profile: StabilityProfile;
  readonly toPercent: number;
  readonly steps: readonly LoadStep[];
}

/**
 * Default load program: allocates and touches GPU memory to follow the plan
 * (percent of the memory the container sees: its MIG slice or its GPU),
 * re-aiming every half second, then holds until the Job is deleted. Needs
 * Python 3 and PyTorch with CUDA in the image.
 */
export const DEFAULT_IMAGE = 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime';
export const LOAD_PROGRAM = `
import json, os, time, torch
plan = json.loads(os.environ["NW_PLAN"])
steps = plan["steps"]
free, total = torch.cuda.mem_get_info()
chunk = 64 << 20
blocks = []
start = time.time()
def planned(ms):
    for s in steps:
        if s["startMs"] <= ms < s["endMs"]:
            f = (ms - s["startMs"]) / max(1, s["endMs"] - s["startMs"])
            return s["fromPercent"] + (s["toPercent"] - s["fromPercent"]) * f
    return steps[-1]["toPercent"]
while True:
    want = int(total * planned((time.time() - start) * 1000) / 100 / chunk)
    while len(blocks) < want:
        b = torch.empty(chunk, dtype=torch.uint8, device="cuda")
        b.fill_(1)
        blocks.append(b)
    del blocks[want:]
    torch.cuda.empty_cache()
    print(f"gpu memory {100 * len(blocks) * chunk / total:.1f}% of {total >> 20} MiB", flush=True)
    time.sleep(0.5)
`.trim();

export interface GpuRequest {
  readonly resource: string;
  readonly count: number;
}

/**
 * What the Job requests so it lands on the node's GPU: the smallest MIG
 * profile the node offers (a MIG node's pods use slices, as the seed's did),
 * else one `nvidia.com/gpu`. BAD_INPUT when the node has neither.
 */
export function gpuRequestFor(node: NodeSnapshot): GpuRequest {
  const mig = Object.entries(node.allocatable)
    .filter(([k, v]) => k.startsWith('nvidia.com/mig-') && parseQuantity(v) > 0)
    .map(([k]) => k)
    .sort((a, b) => sliceSize(a) - sliceSize(b) || (a < b ? -1 : 1));
  if (mig[0] !== undefined) return { resource: mig[0], count: 1 };
  if (parseQuantity(node.allocatable['nvidia.com/gpu'] ?? '0') > 0) {
    return { resource: 'nvidia.com/gpu', count: 1 };
  }
  throw badInput(
    `node ${node.name} offers no nvidia.com/gpu or nvidia.com/mig-* to a pod`,
    'pick a GPU node (kubectl get nodes -o custom-columns=NAME:.metadata.name,GPU:.status.allocatable)',
  );
}

/** `nvidia.com/mig-1g.10gb` → 1 (compute slices); unknown shapes sort last. */
function sliceSize(resource: string): number {
  return Number(/mig-(\d+)g\./.exec(resource)?.[1] ?? 99);
}

export interface StabilityJobInput {
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  readonly gpu: GpuRequest;
  readonly image: string;
  readonly command: readonly string[];
  readonly plan: StabilityPlanAnnotation;
  /** The Job ends itself after this long even if nobody deletes it. */
  readonly activeDeadlineSeconds: number;
}

export function stabilityJob(input: StabilityJobInput): Record<string, unknown> {
  const labels = { [JOB_LABEL]: input.node.slice(0, 63).replace(/[^A-Za-z0-9_.-]/g, '-') };
  const plan = JSON.stringify(input.plan);
  const resources = { cpu: '1', memory: '4Gi', [input.gpu.resource]: String(input.gpu.count) };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: input.name, namespace: input.namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: input.activeDeadlineSeconds,
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels, annotations: { [PLAN_ANNOTATION]: plan } },
        spec: {
          restartPolicy: 'Never',
          nodeSelector: { 'kubernetes.io/hostname': input.node },
          // The node may be cordoned for the test's sake; the load must still land there.
          tolerations: [
            { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
          ],
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'gpu-load',
              image: input.image,
              command: [...input.command],
              env: [{ name: 'NW_PLAN', value: plan }],
              resources: { requests: resources, limits: resources },
            },
          ],
        },
      },
    },
  };
}
