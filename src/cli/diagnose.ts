import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openStackConfigFromEnv } from '../cloud/openstack/config.ts';
import { openOpenStackCloud } from '../cloud/openstack/openstack-cloud.ts';
import type { CloudProvider } from '../core/cloud.ts';
import { badInput, NodeWardenError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import type { NetworkSources } from '../diagnose/collectors.ts';
import { gpuHistoryOf } from '../diagnose/gpu-history.ts';
import { adHocIncident, diagnose } from '../diagnose/pipeline.ts';
import { probeReference } from '../probe/reference-probe.ts';
import { parseReferenceAddress, type ReferenceAddress } from '../core/evidence.ts';
import { recordDiagnosis } from '../diagnose/stored.ts';
import { KubeClusterView } from '../kube/cluster-view.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { HttpPrometheusClient } from '../metrics/prometheus-client.ts';
import { LinuxProber } from '../probe/linux-prober.ts';
import { validateTarget } from '../probe/target.ts';
import { LANGS, type Lang } from '../report/zone.ts';
import { openStore } from '../store/open.ts';
import type { IncidentStore } from '../store/port.ts';
import { EXIT_OK, intFlag, parseFlags, type Command } from './command.ts';

const help = `nodewarden diagnose — why is this node down? Evidence, root cause and the report, now

Usage:
  nodewarden diagnose <node> [--kubeconfig PATH] [--store URL] [--lang ko|en]
                             [--out DIR] [--zone Asia/Seoul] [--prometheus URL]
                             [--gateway IP[:PORT]] [--ovn-gateway IP[:PORT]] [--timeout-ms N]

Collects every source of evidence about <node> at once, each under its own
timeout, printing each step as it finishes: Kubernetes (conditions, taints,
events, Lease age, pods), the network (a layered L2/L3/L4/L7 probe from this
host, plus the reference points you name), OpenStack (instance, actions, ports,
diagnostics, and the console log, saved before anything reboots it), GPU
memory history, kernel-log signatures (agent last words, console log),
Kube-OVN restarts, and the impact (pods displaced, survivors' requests/limits
% before and after). Then the root cause with a confidence, and the incident
report in the seed's format, written to --out.

A source that is not configured or does not answer is reported as missing,
error or timeout — never guessed.

Options:
  --kubeconfig PATH   default: $KUBECONFIG, in-cluster, ~/.kube/config
  --store URL         the controller's store (sqlite:<path>, postgres://…): use
                      the node's open incident, its agent last words, and keep
                      the evidence with the incident (for nodewarden report)
  --lang ko|en        language printed (both are written; default en)
  --out DIR           where the reports go (default ./nodewarden-reports)
  --zone ZONE         IANA zone for report times (default Asia/Seoul)
  --prometheus URL    read DCGM GPU series (DCGM_FI_DEV_FB_USED/_FREE) here; with
                      --store, the agents' samples when it fails or holds none
  --gateway IP[:PORT] the node's gateway, probed from here as a reference point:
                      pinged, and with :PORT also connected to (nc -vz)
  --ovn-gateway IP[:PORT]
                      the OVN gateway (e.g. 100.64.0.1), probed the same way
  --timeout-ms N      per-layer probe timeout (default 3000)

OpenStack is used when OS_AUTH_URL is set (OS_* variables as the openstack CLI
reads them); the node's spec.providerID names its server.

Exit: 0 when the diagnosis was made (whatever it found), 1 when the cluster or
store could not be read, 2 for bad usage.

Examples:
  nodewarden diagnose tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq --ovn-gateway 100.64.0.1
  nodewarden diagnose node-7 --store sqlite:/var/lib/nodewarden/nodewarden.db --lang ko
`;

/** RFC 1123 subdomain: what Kubernetes accepts as a node name. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkLang(value: string): Lang {
  if (!(LANGS as readonly string[]).includes(value)) {
    throw badInput(
      `--lang "${value}" is not one of ${LANGS.join(', ')}`,
      'pass --lang ko or --lang en',
    );
  }
  return value as Lang;
}

/** `--gateway`/`--ovn-gateway`: `IP` or `IP:PORT` (`[IPv6]:PORT`); null when the flag is absent. */
export function checkReferenceAddress(
  flag: string,
  value: string | undefined,
): ReferenceAddress | null {
  if (value === undefined) return null;
  const parsed = parseReferenceAddress(value);
  const valid = (() => {
    if (parsed === null) return null;
    try {
      validateTarget({ ip: parsed.ip, port: parsed.port ?? 1, timeoutMs: 1000 });
      return parsed;
    } catch {
      return null;
    }
  })();
  if (valid === null) {
    throw badInput(
      `--${flag} "${value}" is not an IP address, nor IP:PORT`,
      `pass e.g. --${flag} 100.64.0.1 (pinged), or --${flag} 10.62.0.1:6443 (pinged and connected to)`,
    );
  }
  return valid;
}

export const command: Command = {
  name: 'diagnose',
  summary: 'collect evidence about a node now, classify the root cause, write the report',
  help,
  async run(argv, io) {
    const { values, positionals } = parseFlags('diagnose', argv, {
      kubeconfig: { type: 'string' },
      store: { type: 'string' },
      lang: { type: 'string', default: 'en' },
      out: { type: 'string', default: 'nodewarden-reports' },
      zone: { type: 'string', default: 'Asia/Seoul' },
      prometheus: { type: 'string' },
      gateway: { type: 'string' },
      'ovn-gateway': { type: 'string' },
      'timeout-ms': { type: 'string' },
    });
    if (positionals.length !== 1) {
      throw badInput(
        positionals.length === 0
          ? 'diagnose needs the node to diagnose'
          : `diagnose takes one node, got ${positionals.length}: ${positionals.join(' ')}`,
        'e.g. nodewarden diagnose tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq (kubectl get nodes lists them)',
      );
    }
    const node = positionals[0] ?? '';
    if (!NODE_NAME.test(node) || node.length > 253) {
      throw badInput(
        `"${node}" is not a Kubernetes node name`,
        'node names are lower-case RFC 1123 names, e.g. worker-1',
      );
    }
    const lang = checkLang(values.lang);
    const timeoutMs = intFlag('timeout-ms', values['timeout-ms'], 3000, 100, 60_000);
    const gateway = checkReferenceAddress('gateway', values.gateway);
    const ovnGateway = checkReferenceAddress('ovn-gateway', values['ovn-gateway']);
    try {
      new Intl.DateTimeFormat('en-GB', { timeZone: values.zone });
    } catch {
      throw badInput(
        `--zone "${values.zone}" is not an IANA time zone`,
        'pass e.g. --zone Asia/Seoul or --zone UTC',
      );
    }
    const prometheus =
      values.prometheus === undefined ? null : new HttpPrometheusClient(values.prometheus);

    const { kc, source } = await loadKubeConfig(values.kubeconfig);
    const view = new KubeClusterView(kc, silentLogger);
    let store: IncidentStore | null = null;
    try {
      io.out(`reading the cluster (${source}) …\n`);
      await view.start(() => undefined);
      if (view.node(node) === undefined) {
        const names = view
          .nodes()
          .map((n) => n.name)
          .sort();
        throw new NodeWardenError('NOT_FOUND', `node "${node}" is not in the cluster`, {
          hint:
            names.length === 0
              ? 'the cluster lists no nodes: check the kubeconfig context'
              : `nodes are: ${names.slice(0, 8).join(', ')}${names.length > 8 ? `, … (${names.length})` : ''}`,
        });
      }
      if (values.store !== undefined) store = await openStore(values.store);
      const open = store === null ? null : await store.findOpenIncident(node);
      const incident = open ?? adHocIncident(node, view.lease(node)?.renewTime ?? null, new Date());
      io.out(
        open === null
          ? `no open incident for ${node}${store === null ? ' (no --store)' : ' in the store'}: diagnosing on demand\n`
          : `open incident ${open.id} (opened ${open.openedAt})\n`,
      );
      let cloud: CloudProvider | null = null;
      if (process.env['OS_AUTH_URL'] !== undefined && process.env['OS_AUTH_URL'] !== '') {
        cloud = await openOpenStackCloud(openStackConfigFromEnv(process.env));
      }
      const network: NetworkSources = {
        observations: null,
        controller: new LinuxProber(),
        references: { gateway, ovnGateway },
        pinger: (_observer, address, ms, signal) => probeReference(address, ms, signal),
      };
      const gpu = gpuHistoryOf(prometheus, store);
      const diagnosis = await diagnose(
        incident,
        { cluster: view, network, cloud, gpu, lastWords: store },
        {
          zone: values.zone,
          network: { probeTimeoutMs: timeoutMs },
          onStep: (src, status, ms, summary) => {
            if (status === 'started') io.out(`  … ${src}\n`);
            else
              io.out(
                `  ${status === 'ok' ? '✓' : '✗'} ${src.padEnd(10)} ${status.padEnd(7)} ${(ms / 1000).toFixed(1).padStart(5)} s  ${summary}\n`,
              );
          },
        },
      );
      const dir = resolve(values.out);
      await mkdir(dir, { recursive: true });
      const base = join(dir, incident.id);
      await Promise.all([
        writeFile(`${base}.en.md`, diagnosis.report.en),
        writeFile(`${base}.ko.md`, diagnosis.report.ko),
        writeFile(`${base}.json`, diagnosis.report.json),
      ]);
      const v = diagnosis.verdict;
      io.out(
        `\nroot cause: ${v.rootCause} (confidence ${v.confidence}, rule ${v.rule}) in ${(diagnosis.totalMs / 1000).toFixed(1)} s\n`,
      );
      if (v.missing.length > 0) {
        io.out(
          `missing evidence: ${v.missing.map((m) => `${m.source} (${m.status}: ${m.summary})`).join('; ')}\n`,
        );
      }
      io.out(
        `report: ${base}.${lang}.md  (also ${base}.${lang === 'en' ? 'ko' : 'en'}.md, ${base}.json)\n`,
      );
      if (store !== null && open !== null) {
        const record = await recordDiagnosis(store, open, diagnosis, 'user:cli');
        io.out(
          `evidence kept with the incident (audit ${record.id}): nodewarden report ${open.id} --store ${values.store ?? ''}\n`,
        );
      }
      return EXIT_OK;
    } finally {
      await view.stop();
      await store?.close();
    }
  },
};
