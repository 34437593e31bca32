/**
 * Which cloud a long-running process talks to, chosen by flag: none, the lab
 * (its node namespaces as VMs) or OpenStack (a clouds.yaml, or the OS_*
 * environment an openrc sets). One place, so the controller and the CLI
 * choose the same way and fail the same way on a bad choice.
 */
import { readFile } from 'node:fs/promises';
import type { CloudProvider } from '../core/cloud.ts';
import { badInput, describeError, NodeWardenError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { LabCloud } from './lab/lab-cloud.ts';
import {
  describeOpenStackConfig,
  openStackConfigFromCloudsYaml,
  openStackConfigFromEnv,
} from './openstack/config.ts';
import { openOpenStackCloud } from './openstack/openstack-cloud.ts';

export const CLOUD_KINDS = ['none', 'lab', 'openstack'] as const;
export type CloudKind = (typeof CLOUD_KINDS)[number];

export function parseCloudKind(text: string): CloudKind {
  if (!(CLOUD_KINDS as readonly string[]).includes(text)) {
    throw badInput(
      `--cloud "${text}" is not one of ${CLOUD_KINDS.join(', ')}`,
      'pass --cloud none, --cloud lab (the netns lab) or --cloud openstack (default: openstack when OS_AUTH_URL is set, else none)',
    );
  }
  return text as CloudKind;
}

export interface CloudChoice {
  readonly kind: CloudKind;
  /** openstack: a clouds.yaml; without it, the OS_* environment. */
  readonly configFile?: string;
  /** openstack with a clouds.yaml: which cloud of it (default $OS_CLOUD, else `openstack`). */
  readonly cloudName?: string;
  /** lab: the lab directory. */
  readonly labDir: string;
  /** lab: how long a rebooting node stays down. */
  readonly labBootDelayMs: number;
  /** Who the actions this process starts are recorded as (the lab cloud; OpenStack uses the credential's user). */
  readonly actor: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface OpenedCloud {
  readonly provider: CloudProvider | null;
  /** For the start-up log line: the kind and, for OpenStack, the configuration without secrets. */
  readonly describe: Record<string, string>;
  close(): void;
}

export async function openCloud(choice: CloudChoice, log: Logger): Promise<OpenedCloud> {
  switch (choice.kind) {
    case 'none':
      if (choice.configFile !== undefined) {
        throw badInput(
          '--cloud-config is given but --cloud is none',
          'add --cloud openstack, or drop --cloud-config',
        );
      }
      return { provider: null, describe: { cloud: 'none' }, close: () => undefined };
    case 'lab': {
      const lab = new LabCloud({
        dir: choice.labDir,
        actor: choice.actor,
        bootDelayMs: choice.labBootDelayMs,
        log,
      });
      return {
        provider: lab,
        describe: {
          cloud: 'lab',
          labDir: choice.labDir,
          bootDelayMs: String(choice.labBootDelayMs),
        },
        close: () => lab.close(),
      };
    }
    case 'openstack': {
      let config;
      if (choice.configFile !== undefined) {
        let text: string;
        try {
          text = await readFile(choice.configFile, 'utf8');
        } catch (error) {
          throw new NodeWardenError(
            'BAD_INPUT',
            `cannot read --cloud-config ${choice.configFile}: ${describeError(error)}`,
            { hint: 'point --cloud-config at a readable clouds.yaml', cause: error },
          );
        }
        const name = choice.cloudName ?? choice.env['OS_CLOUD'] ?? 'openstack';
        config = openStackConfigFromCloudsYaml(text, name);
      } else {
        config = openStackConfigFromEnv(choice.env);
      }
      const cloud = await openOpenStackCloud(config, { logger: log });
      return {
        provider: cloud,
        describe: { cloud: 'openstack', ...describeOpenStackConfig(config) },
        close: () => undefined,
      };
    }
  }
}
