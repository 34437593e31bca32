import type { KubeConfig } from '@kubernetes/client-node';
import { badInput, describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { kubeRequest } from './http.ts';

/**
 * Marks the pod of the replica that leads with `nodewarden.io/leader=true`,
 * so a Service selecting that label sends the agents' pushes to the leader
 * alone. Without it a Service spreads them over every replica, and the
 * leader's mesh sees only the share that reached it.
 *
 * Rules:
 * - a replica that starts, or stops leading, removes the label from its own
 *   pod (a restarted container keeps its pod's labels);
 * - a replica that becomes leader sets it on its own pod, then removes it
 *   from any other pod still carrying it (an old leader cut off from the API
 *   server could not remove its own);
 * - failures are logged and retried at the next change, never fatal:
 *   detection goes on, and the Service's endpoints follow once a call works.
 */
export const LEADER_LABEL = 'nodewarden.io/leader';

export interface LeaderPodLabelConfig {
  readonly namespace: string;
  readonly pod: string;
}

const TIMEOUT_MS = 10_000;

/** The pod this process runs in, from the downward API ($POD_NAME, $POD_NAMESPACE). */
export function ownPod(env: NodeJS.ProcessEnv): LeaderPodLabelConfig {
  const pod = env['POD_NAME'];
  const namespace = env['POD_NAMESPACE'];
  if (!pod || !namespace) {
    throw badInput(
      '--label-leader-pod needs $POD_NAME and $POD_NAMESPACE (this process must run in a pod)',
      'set them from the downward API (metadata.name, metadata.namespace), as the Helm chart does',
    );
  }
  return { pod, namespace };
}

export class LeaderPodLabel {
  #queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly kc: KubeConfig,
    private readonly cfg: LeaderPodLabelConfig,
    private readonly log: Logger,
  ) {}

  /** Applies a leadership change, in order after any earlier one; resolves when it is done. */
  follow(leading: boolean): Promise<void> {
    this.#queue = this.#queue.then(() => this.#apply(leading));
    return this.#queue;
  }

  async #apply(leading: boolean): Promise<void> {
    try {
      await this.#label(this.cfg.pod, leading);
      if (leading) {
        const others = await kubeRequest<{ items?: { metadata: { name: string } }[] }>(
          this.kc,
          'GET',
          `${this.#pods()}?labelSelector=${encodeURIComponent(`${LEADER_LABEL}=true`)}`,
          TIMEOUT_MS,
        );
        for (const p of others.items ?? [])
          if (p.metadata.name !== this.cfg.pod) await this.#label(p.metadata.name, false);
      }
      this.log.log(
        'info',
        leading ? 'labelled this pod leader' : 'this pod is not labelled leader',
        {
          pod: this.cfg.pod,
        },
      );
    } catch (error) {
      this.log.log('warn', 'could not update the leader label on pods', {
        pod: this.cfg.pod,
        leading,
        error: describeError(error),
      });
    }
  }

  #pods(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.cfg.namespace)}/pods`;
  }

  #label(pod: string, leading: boolean): Promise<unknown> {
    return kubeRequest(
      this.kc,
      'PATCH',
      `${this.#pods()}/${encodeURIComponent(pod)}`,
      TIMEOUT_MS,
      { metadata: { labels: { [LEADER_LABEL]: leading ? 'true' : null } } },
      'application/merge-patch+json',
    );
  }
}
