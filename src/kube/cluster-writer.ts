import type { KubeConfig } from '@kubernetes/client-node';
import type { Taint } from '../core/cluster.ts';
import {
  applyNodePatch,
  type ClusterWriter,
  type MachineRef,
  type NodePatch,
  type NodePatchResult,
} from '../core/cluster-writer.ts';
import { NodeWardenError } from '../core/errors.ts';
import { KubeHttpError, kubeRequest } from './http.ts';

interface RawNode {
  metadata: { resourceVersion: string };
  spec?: { unschedulable?: boolean; taints?: Taint[] };
}

const TIMEOUT_MS = 10_000;
const ATTEMPTS = 4;

/** Kubernetes names: lower-case RFC 1123 subdomains (they land in a URL path). */
function checkName(kind: string, name: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `${kind} name ${JSON.stringify(name)} is not a Kubernetes name`,
      {
        hint: 'names are lower-case letters, digits, "-" and "."',
      },
    );
  }
  return name;
}

function wrap(error: unknown, what: string): NodeWardenError {
  if (error instanceof KubeHttpError) {
    if (error.status === 404)
      return new NodeWardenError('NOT_FOUND', `${what}: not found`, {
        cause: error,
        hint: 'it was deleted',
      });
    if (error.status === 403)
      return new NodeWardenError('BAD_INPUT', `${what}: Forbidden (${error.message})`, {
        cause: error,
        hint: 'grant the controller patch on nodes (and on machines.cluster.x-k8s.io for escalation)',
      });
  }
  return error instanceof NodeWardenError
    ? error
    : new NodeWardenError('UNAVAILABLE', `${what}: ${String(error)}`, { cause: error });
}

/**
 * `ClusterWriter` against a real API server. A node's taints are a list, so
 * a merge patch would replace everyone's taints with ours: instead the
 * adapter reads the node and sends a JSON Patch that first tests the
 * `resourceVersion` it read, then sets `spec.taints` and `spec.unschedulable`
 * — if anyone changed the node in between, the test fails (409/422) and it
 * reads and tries again (up to 4 times, then CONFLICT).
 */
export class KubeClusterWriter implements ClusterWriter {
  constructor(private readonly kc: KubeConfig) {}

  async patchNode(name: string, patch: NodePatch): Promise<NodePatchResult> {
    const path = `/api/v1/nodes/${checkName('node', name)}`;
    for (let attempt = 1; ; attempt++) {
      let node: RawNode;
      try {
        node = await kubeRequest<RawNode>(this.kc, 'GET', path, TIMEOUT_MS);
      } catch (error) {
        throw wrap(error, `get node ${name}`);
      }
      const current = {
        unschedulable: node.spec?.unschedulable ?? false,
        taints: node.spec?.taints ?? [],
      };
      const next = applyNodePatch(current, patch, new Date().toISOString());
      const r = next.result;
      if (
        !r.cordoned &&
        !r.uncordoned &&
        r.taintsAdded.length === 0 &&
        r.taintsRemoved.length === 0
      )
        return r;
      const ops = [
        { op: 'test', path: '/metadata/resourceVersion', value: node.metadata.resourceVersion },
        {
          op: node.spec?.taints === undefined ? 'add' : 'replace',
          path: '/spec/taints',
          value: next.taints,
        },
        {
          op: node.spec?.unschedulable === undefined ? 'add' : 'replace',
          path: '/spec/unschedulable',
          value: next.unschedulable,
        },
      ];
      try {
        await kubeRequest(this.kc, 'PATCH', path, TIMEOUT_MS, ops, 'application/json-patch+json');
        return r;
      } catch (error) {
        const changed =
          error instanceof KubeHttpError && (error.status === 409 || error.status === 422);
        if (!changed) throw wrap(error, `patch node ${name}`);
        if (attempt >= ATTEMPTS) {
          throw new NodeWardenError(
            'CONFLICT',
            `patch node ${name}: changed by someone else ${ATTEMPTS} times in a row`,
            {
              cause: error,
              hint: 'another controller is rewriting the node; try again',
            },
          );
        }
      }
    }
  }

  async annotateMachine(ref: MachineRef, key: string, value: string): Promise<void> {
    const path = `/apis/cluster.x-k8s.io/v1beta1/namespaces/${checkName('namespace', ref.namespace)}/machines/${checkName('machine', ref.name)}`;
    try {
      await kubeRequest(
        this.kc,
        'PATCH',
        path,
        TIMEOUT_MS,
        { metadata: { annotations: { [key]: value } } },
        'application/merge-patch+json',
      );
    } catch (error) {
      throw wrap(error, `annotate Machine ${ref.namespace}/${ref.name}`);
    }
  }
}
