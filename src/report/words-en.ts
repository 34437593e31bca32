/**
 * The report in English. Phrases ReportFacts only; what to say is decided in
 * facts.ts and words.ts so that en and ko always say the same thing.
 */
import type { Correlation, Finding } from '../core/classify.ts';
import { powerStateLabel, type EvidenceSource, type EvidenceStatus } from '../core/evidence.ts';
import type { RootCause } from '../core/incident.ts';
import { LAYERS, type Layer, type LayerStatus } from '../core/probe.ts';
import { layerOf, type ReportFacts, type TimelineItem } from './facts.ts';
import { block, bullets, code, numbered, paragraphs, plain, table } from './md.ts';
import type { RemediationResult } from './report-input.ts';
import {
  referenceLayers,
  byTime,
  longTermItems,
  readyChange,
  reasonOf,
  taintOf,
  type LongTermItem,
  type Words,
} from './words.ts';
import { formatDuration, formatMs, formatPct, formatSpan } from './zone.ts';

const TITLE: Readonly<Record<RootCause, string>> = {
  NODE_HALTED: 'Node halted: unreachable at every network layer, kubelet lost, node NotReady',
  NODE_POWERED_OFF: 'Node powered off: kubelet lost, node NotReady',
  NODE_DELETED: 'Node instance deleted: node lost from the cluster',
  HOST_NETWORK_DOWN: 'Node host network cut off: kubelet lost, node NotReady',
  KUBELET_DOWN: 'Kubelet down on the node: node NotReady',
  KUBELET_HUNG: 'Kubelet hung on the node: node NotReady',
  PARTIAL_PARTITION: 'Partial network partition: node reachable from some nodes only',
  OVERLAY_DATAPATH: 'Overlay (Kube-OVN) datapath failure: pod network cut off',
  GPU_FAULT: 'GPU fault (Xid) took the node down: node NotReady',
  OOM_KILLED_NETWORK: 'OOM killer stopped the node’s network daemon: node cut off',
  PLANNED_MAINTENANCE: 'Planned maintenance took the node down',
  CONTROL_PLANE_SIDE: 'Control-plane-side partition: many nodes NotReady at once',
  UNKNOWN: 'Node outage of undetermined cause: node NotReady',
};

/** One clause per root cause: what it means (the report and the dashboard say it the same way). */
export const MEANING: Readonly<Record<RootCause, string>> = {
  NODE_HALTED:
    'the node’s own system stopped (hang, crash or panic) while the cloud still runs its VM',
  NODE_POWERED_OFF: 'the VM is powered off',
  NODE_DELETED: 'the VM no longer exists',
  HOST_NETWORK_DOWN: 'the node runs, but its host network is cut off',
  KUBELET_DOWN: 'the host is up, but kubelet is not running',
  KUBELET_HUNG: 'kubelet runs but does not answer (hung)',
  PARTIAL_PARTITION: 'the network is split: some nodes reach this node, others do not',
  OVERLAY_DATAPATH: 'the pod network (overlay datapath) is broken while the host network works',
  GPU_FAULT: 'a GPU fault (fatal Xid) took the node down',
  OOM_KILLED_NETWORK: 'the kernel’s OOM killer killed the node’s network daemon',
  PLANNED_MAINTENANCE: 'the node was taken down on purpose (maintenance)',
  CONTROL_PLANE_SIDE:
    'the problem is on the control-plane side (partition or lost API), not in one node',
  UNKNOWN: 'the evidence does not single out a cause',
};

const IMMEDIATE: Readonly<Record<RootCause, readonly string[]>> = {
  NODE_HALTED: [
    'Save the console log before any reboot (a hard reboot wipes it).',
    'Cordon and taint the node.',
    'Soft-reboot the instance through Nova; hard-reboot if it does not come back.',
    'Once the node is confirmed off or rebooting, apply `node.kubernetes.io/out-of-service` so StatefulSet pods and volumes can move.',
    'Wait for Ready and remove the taints; if it stays dead, replace the machine (Cluster API) or escalate to a person.',
  ],
  NODE_POWERED_OFF: [
    'If Nova’s power sync stopped it (`user_id` null), start the instance; if a person stopped it, ask them first.',
    'While it is off, apply `node.kubernetes.io/out-of-service` so StatefulSet pods and volumes can move.',
    'Wait for Ready and remove the taints.',
  ],
  NODE_DELETED: [
    'Delete the Node object if the cloud controller manager has not.',
    'Let Cluster API or the autoscaler replace the machine; apply `node.kubernetes.io/out-of-service` so volumes detach.',
  ],
  HOST_NETWORK_DOWN: [
    'Reset the node’s interface from outside: toggle the Neutron port’s `admin_state_up`, or detach and re-attach the interface through Nova.',
    'If it stays cut off, follow the halted-node ladder: save the console log, cordon, soft then hard reboot.',
  ],
  KUBELET_DOWN: [
    'Restart kubelet on the node (`systemctl restart kubelet`) and read why it stopped (`journalctl -u kubelet`).',
    'Check the container runtime (`crictl info`) before uncordoning.',
  ],
  KUBELET_HUNG: [
    'Capture kubelet’s logs and a goroutine dump, then restart kubelet.',
    'Check the container runtime and disk pressure (a hung runtime call can freeze kubelet).',
  ],
  PARTIAL_PARTITION: [
    'Do not reboot the node: it is alive for part of the cluster.',
    'Find the broken path between the two groups of observers (security groups, OVN tunnels, MTU, routes).',
  ],
  OVERLAY_DATAPATH: [
    'Restart `ovs-ovn` and `kube-ovn-cni` on the node.',
    'Check the Geneve tunnels (`ovs-vsctl show`, `ovn-sbctl show`) and the node’s chassis registration.',
  ],
  GPU_FAULT: [
    'Drain the GPU workloads from the node.',
    'Reset the GPU (`nvidia-smi -r`) or reboot the node; check the driver and firmware against the Xid.',
  ],
  OOM_KILLED_NETWORK: [
    'Restart openvswitch/ovn-controller on the node, or reboot it.',
    'Find what exhausted memory and give OVS/OVN and that workload memory requests and limits.',
  ],
  PLANNED_MAINTENANCE: [
    'Nothing to repair: confirm with whoever planned the maintenance when the node returns.',
    'Check that PodDisruptionBudgets held while it was drained.',
  ],
  CONTROL_PLANE_SIDE: [
    'Do not remediate nodes: restore the controller’s and the API server’s connectivity first.',
    'Re-check the nodes once the control plane sees them again.',
  ],
  UNKNOWN: [
    'Collect the missing evidence listed in Root Cause Analysis and run the diagnosis again.',
    'A person decides on any disruptive action.',
  ],
};

const LONG_TERM: Readonly<Record<LongTermItem, string>> = {
  'gpu-driver-compat':
    'Check GPU driver, firmware and network driver version compatibility on the GPU nodes.',
  'gpu-load-network-test':
    'Run network-stability tests under GPU load on GPU/MIG nodes (on demand and on a schedule).',
  'mig-limits':
    'Give MIG workloads CPU/memory limits and Guaranteed QoS, enforced by an admission policy.',
  'capacity-guard':
    'Audit what-if-this-node-dies overcommit per node, and report it before pods move.',
  'last-words':
    'Make sure agents push kernel-log last words and the console log is saved before any reboot.',
  'cloud-provider':
    'Configure the OpenStack provider so instance state, actions and console logs are collected.',
  alerting: 'Send a notification the moment an incident opens (Slack webhook, Alertmanager).',
  'auto-remediation':
    'Enable automatic remediation with its brakes (dry-run or approval mode first).',
};

const SOURCE: Readonly<Record<EvidenceSource, string>> = {
  kubernetes: 'Kubernetes',
  network: 'Network',
  cloud: 'Cloud (OpenStack)',
  gpu: 'GPU',
  kernel: 'Kernel log',
  cni: 'CNI',
  impact: 'Impact',
};

const STATUS: Readonly<Record<Exclude<EvidenceStatus, 'ok'>, string>> = {
  missing: 'missing',
  error: 'error',
  timeout: 'timed out',
};

const LAYER_NAME: Readonly<Record<Layer, string>> = {
  L2: 'L2 (ARP)',
  L3: 'L3 (ICMP)',
  L4: 'L4 (TCP)',
  L7: 'L7 (HTTPS)',
};

const LAYER_STATUS: Readonly<Record<LayerStatus, string>> = {
  ok: 'ok',
  failed: 'failed',
  skipped: 'skipped',
};

const RESULT: Readonly<Record<RemediationResult, string>> = {
  succeeded: 'succeeded',
  failed: 'failed',
  skipped: 'skipped',
  refused: 'refused by a brake',
  'dry-run': 'dry run (not executed)',
};

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function gpuLabel(c: {
  gpu: string;
  migInstance: string | null;
  migProfile: string | null;
}): string {
  if (c.migInstance === null) return `GPU ${c.gpu}`;
  return `GPU ${c.gpu} MIG ${c.migProfile === null ? '' : `${c.migProfile} `}instance ${c.migInstance}`;
}

function pct(n: number): string {
  return formatPct(n);
}

function cloudStateText(s: {
  status: string | null;
  powerState: Parameters<typeof powerStateLabel>[0] | null;
}): string {
  return `${s.status ?? 'unknown'} / ${s.powerState === null ? 'unknown power state' : powerStateLabel(s.powerState)}`;
}

function fact(f: ReportFacts, x: Finding): string {
  const t = (iso: string | null) => (iso === null ? 'never' : f.clock.dateTime(iso));
  switch (x.kind) {
    case 'partition-incident':
      return `${x.nodes} nodes failed together: one partition incident, not ${x.nodes} node incidents`;
    case 'api-unreachable':
      return `the controller cannot reach the API server (last contact ${t(x.lastContactAt)})`;
    case 'many-not-ready':
      return `${x.notReady} of ${x.total} nodes are NotReady at once`;
    case 'instance-gone':
      return `OpenStack no longer has instance ${code(x.instanceId)}${x.status === null ? '' : ` (status ${x.status})`}`;
    case 'node-object-gone':
      return `the Node object ${code(x.node)} is gone from the Kubernetes API`;
    case 'cloud-state':
      return `OpenStack reports the instance ${cloudStateText(x)} (task_state ${x.taskState ?? 'None'}, vm_state ${x.vmState ?? 'unknown'})`;
    case 'stop-action':
      return x.userId === null
        ? `${code(x.action)} at ${t(x.at)} by Nova itself (user_id null: its power-state sync found the VM off)`
        : `${code(x.action)} at ${t(x.at)} by user ${code(x.userId)}`;
    case 'no-stop-action':
      return `no stop/shutoff among the instance’s ${plural(x.actions, 'recorded action')}: not a clean shutdown`;
    case 'cordoned':
      return `cordoned since ${t(x.since)}, before the last heartbeat`;
    case 'maintenance-marker':
      return `maintenance ${x.on} ${code(x.key)} on the node`;
    case 'user-reboot':
      return `${code(x.action)} started at ${t(x.at)} by user ${code(x.userId)} (task_state ${x.taskState ?? 'None'})`;
    case 'all-dead':
      return `no answer at any layer from all ${x.vantagePoints} vantage points; ARP failed from all ${x.l2Failed} on the node’s link${
        x.l2Untested > 0
          ? ` (${x.l2Untested} more ${x.l2Untested === 1 ? 'is' : 'are'} routed and cannot test L2)`
          : ''
      }`;
    case 'split':
      return `reachable from ${x.reached.map(code).join(', ')} but not from ${x.unreached.map(code).join(', ')}`;
    case 'arp-only':
      return `ARP answered from ${plural(x.l2Ok, 'vantage point')}, yet no IP traffic got through from any of the ${x.vantagePoints}: the kernel is alive, its IP path is not`;
    case 'dead-l2-untested':
      return `no answer from any of the ${x.vantagePoints} vantage points, but none shares the node’s link, so L2 could not be tested`;
    case 'reached-l3':
      return `all ${x.vantagePoints} vantage points reach the node at IP level (L3)`;
    case 'l4-refused':
      return `TCP :10250 refused (${code('ECONNREFUSED')}) from ${x.refused} of ${x.tested}: the host is up, kubelet is not listening`;
    case 'l7-failed':
      return `TCP :10250 connects, but HTTPS /healthz failed from ${x.failed} of ${x.tested} (${code(x.detail)})${x.timeout ? ': kubelet is hung' : ''}`;
    case 'l4-timeout':
      return `TCP :10250 timed out from ${x.failed} of ${x.tested} while ICMP answers`;
    case 'all-layers-answer':
      return `the node answers at every layer from all ${x.vantagePoints} vantage points`;
    case 'few-vantage-points':
      return `only ${plural(x.vantagePoints, 'vantage point')} returned a result: weaker evidence`;
    case 'no-vantage-result':
      return `none of the ${x.asked} vantage points asked returned a probe result`;
    case 'references-ok':
      return x.from === 'observers'
        ? `${referenceNames(x.kinds)} answered from the node’s observers ${x.observers.map(code).join(', ')} (${plural(x.probes, 'probe')}): the network itself was up, the node was not`
        : `${referenceNames(x.kinds)} answered from the controller (${plural(x.probes, 'probe')}; no observer answered): the network core was up, the observers’ own paths were not measured`;
    case 'references-failed':
      return x.from === 'observers' && x.observers.length * 2 > x.of
        ? `${x.failed} of ${x.total} reference probes (gateway, OVN gateway) failed from the observers too (${x.observers.map(code).join(', ')}, ${x.observers.length} of ${x.of}): the network around the node is down, not provably the node`
        : `${x.failed} of ${x.total} reference probes (gateway, OVN gateway) failed too${x.from === 'controller' ? ' (from the controller)' : ''}: the vantage points’ own path may be at fault`;
    case 'hypervisor':
      return x.hostStatus === 'UP'
        ? 'the hypervisor is up (host_status UP)'
        : `hypervisor host_status ${x.hostStatus}: Nova’s view of the VM may be stale`;
    case 'port-down':
      return `Neutron port ${code(x.id)} is ${x.status}${x.adminStateUp ? '' : ' (admin_state_up false)'}`;
    case 'guest-sending':
      return `the guest’s NIC sent ${x.toPackets - x.fromPackets} packets in ${x.seconds} s after the cut: the VM runs, its packets do not arrive`;
    case 'signature':
      return `kernel log ${code(x.signature.title)} ${
        x.signature.at === null ? '(unstamped)' : `at ${t(x.signature.at)}`
      }${x.beforeCut === false ? ', outside the outage window' : ''}: ${code(x.signature.line)}`;
    case 'xid-counted':
      return `DCGM counted Xid ${x.xid} ×${x.count} on GPU ${x.gpu}${x.lastAt === null ? '' : `, last at ${t(x.lastAt)}`}`;
    case 'no-signature':
      return `the ${x.origins.map((o) => (o === 'console' ? 'console log' : 'agent’s last words')).join(' and the ')} held no known failure signature`;
    case 'overlay-failed':
      return `${x.failed} of ${x.total} pod-network (overlay) checks failed while the underlay answers`;
    case 'cni-restarts':
      return `${code(x.pod)} (${x.component}) on ${code(x.node)} restarted ${plural(x.restarts, 'time')} around the outage`;
    case 'lease-stale':
      return `the node’s Lease was ${formatDuration(x.ageSeconds, 'en')} old when observed`;
  }
}

function referenceNames(kinds: readonly ('gateway' | 'ovn-gateway')[]): string {
  const names = kinds.map((k) => (k === 'ovn-gateway' ? 'the OVN gateway' : 'the node’s gateway'));
  return names.join(' and ');
}

function correlation(f: ReportFacts, c: Correlation): string {
  switch (c.kind) {
    case 'gpu-memory-rise':
      return `GPU memory (${gpuLabel(c)}) rose ${pct(c.fromPct)} → ${pct(c.toPct)} in the ${c.windowMinutes} minutes before the last heartbeat (${f.clock.clock(c.heartbeatAt)}; ${pct(c.toPct)} reached at ${f.clock.clock(c.toAt)}) — correlation, causality unproven`;
    case 'xid-before-heartbeat':
      return `Xid ${c.xid} counted ×${c.count} on GPU ${c.gpu}, last at ${f.clock.clock(c.lastAt)}, before the last heartbeat — correlation, causality unproven`;
  }
}

/** `from all 5 vantage points (4 observers and the controller)` */
function vantagePhrase(f: ReportFacts): string {
  const observers = f.vantage.filter((v) => v.result !== null && !v.isController).length;
  const controller = f.vantage.some((v) => v.result !== null && v.isController);
  const parts = [
    observers > 0 ? plural(observers, 'observer') : null,
    controller ? 'the controller' : null,
  ].filter((p) => p !== null);
  return `${f.answeredProbes} vantage point${f.answeredProbes === 1 ? '' : 's'} (${parts.join(' and ')})`;
}

function layerTallyText(f: ReportFacts): string {
  return LAYERS.map((l) => {
    const t = f.tally[l];
    const tested = t.ok + t.failed;
    if (tested === 0) return `${l} not tested`;
    return t.failed === 0 ? `${l} ok ${t.ok}/${tested}` : `${l} failed ${t.failed}/${tested}`;
  }).join(', ');
}

function networkSentence(f: ReportFacts): string {
  const node = `Node ${code(f.node)}${f.ip === null ? '' : ` (${f.ip})`}`;
  if (f.answeredProbes === 0) {
    return `${node} could not be probed: no vantage point returned a result.`;
  }
  if (f.deadEverywhere) {
    return `${node} stopped answering at every network layer — L2 (ARP), L3 (ICMP), L4 (TCP :10250), L7 (HTTPS /healthz) — from all ${vantagePhrase(f)}.`;
  }
  return `${node} was probed from ${vantagePhrase(f)}: ${layerTallyText(f)}.`;
}

function cloudSentence(f: ReportFacts): string {
  const c = f.cloud;
  if (c === null) {
    const m = f.missing.find((x) => x.source === 'cloud');
    return `Cloud evidence is not available (${m === undefined ? 'missing' : `${STATUS[m.status]}: ${plain(m.summary)}`}).`;
  }
  if (!c.found) return `OpenStack no longer knows instance ${code(c.instanceId)}.`;
  const stop = f.stopAction;
  const actions =
    stop === undefined
      ? 'with no stop or shutoff action'
      : stop.userId === null
        ? `with a ${code(stop.action)} by Nova’s power sync at ${f.clock.clock(stop.startTime)}`
        : `with a ${code(stop.action)} by user ${code(stop.userId)} at ${f.clock.clock(stop.startTime)}`;
  return `OpenStack reports the instance ${cloudStateText(c)} ${actions}.`;
}

function referenceSentence(f: ReportFacts): string | null {
  const x = f.verdict.findings.find(
    (v) => v.kind === 'references-ok' || v.kind === 'references-failed',
  );
  if (x === undefined) return null;
  if (x.kind === 'references-ok') {
    return x.from === 'observers'
      ? `${capital(referenceNames(x.kinds))} answered from the node’s observers (${x.observers.join(', ')}), so the network itself was up and the node was not.`
      : `${capital(referenceNames(x.kinds))} answered from the controller (no observer answered in time), so the network core was up.`;
  }
  if (x.kind !== 'references-failed') return null;
  return x.from === 'observers' && x.observers.length * 2 > x.of
    ? `The reference points failed from ${x.observers.length} of the ${x.of} observers that probed them too, so the network around the node is down: this is not evidence of a node fault.`
    : `Some reference points failed too (${x.failed} of ${x.total}), so the vantage points’ own path may be at fault.`;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function verdictSentence(f: ReportFacts): string {
  const v = f.verdict;
  return `**Root cause: ${v.rootCause} — ${MEANING[v.rootCause]}; confidence ${v.confidence.toFixed(2)}.**`;
}

function notReadyAt(f: ReportFacts): string | null {
  return f.incident.timeline.find((e) => e.kind === 'k8s-not-ready')?.at ?? null;
}

function consequence(f: ReportFacts): string | null {
  const head =
    notReadyAt(f) === null
      ? 'Kubelet heartbeats stopped'
      : 'Kubelet heartbeats stopped and Kubernetes marked the node NotReady';
  if (f.displaced === null || f.displaced === 0) return `${head}.`;
  const moved = `${head}; ${f.displaced} of its pods were evicted and rescheduled onto other nodes`;
  if (f.survivors === null) return `${moved}.`;
  return `${moved}, pushing ${plural(f.survivors.count, 'surviving node')} to CPU limits of ${pct(f.survivors.cpuLimits.min)}–${pct(f.survivors.cpuLimits.max)} of allocatable.`;
}

function eventTime(f: ReportFacts, iso: string): string {
  return `**${f.clock.dateTime(iso)}**`;
}

function timelineText(f: ReportFacts, item: TimelineItem): string {
  switch (item.kind) {
    case 'entry': {
      const e = item.entry;
      switch (e.kind) {
        case 'last-heartbeat':
          return 'last kubelet heartbeat (Lease renewal)';
        case 'suspect':
          return `NodeWarden: node suspect — ${plain(reasonOf(e.message))}`;
        case 'down':
          return `NodeWarden: node down — ${plain(reasonOf(e.message))}`;
        case 'incident-opened':
          return 'node cut-off detected: NodeWarden opened the incident';
        case 'k8s-not-ready': {
          const r = readyChange(e.message);
          return r === null
            ? `Kubernetes: ${plain(e.message)}`
            : `Kubernetes marked the node NotReady (${code(`Ready=${r.status}`)}${r.reason === null ? '' : `, ${plain(r.reason)}`})`;
        }
        case 'k8s-taint': {
          const taint = taintOf(e.message);
          return taint === null ? plain(e.message) : `Kubernetes tainted the node ${code(taint)}`;
        }
        case 'pod-evicted':
          return plain(e.message);
        case 'ready-again':
          return 'Kubernetes: node Ready again';
        case 'recovering':
          return 'NodeWarden: the node answers again';
        case 'resolved':
          return 'system recovered: incident resolved';
        case 'flap':
          return `the node failed again soon after recovering (flap): ${plain(e.message)}`;
        case 'note':
          return `note: ${plain(e.message)}`;
        case 'diagnosis':
          return `NodeWarden diagnosis: ${plain(e.message)}`;
        case 'cloud':
          return `cloud: ${plain(e.message)}`;
      }
      break;
    }
    case 'evicted':
      return `${plural(item.count, 'pod')} evicted from the node (rescheduled onto the survivors)`;
    case 'gpu-rise':
      return `GPU memory ${pct(item.rise.fromPct)} → ${pct(item.rise.toPct)} (${gpuLabel(item.rise)}) — correlation, causality unproven`;
    case 'verdict':
      return `NodeWarden classified the root cause: ${code(f.verdict.rootCause)} (confidence ${f.verdict.confidence.toFixed(2)})`;
    case 'remediation':
      return `remediation ${code(item.record.action)} on ${code(item.record.target)} by ${item.record.actor}: ${RESULT[item.record.result]}`;
  }
  return '';
}

function sourceStep(f: ReportFacts, e: ReportFacts['evidence'][number]): string {
  if (e.status !== 'ok' || e.data === null) {
    return `${STATUS[e.status === 'ok' ? 'missing' : e.status]}: ${plain(e.summary)}`;
  }
  switch (e.source) {
    case 'kubernetes': {
      const d = e.data;
      const ready = d.conditions.find((c) => c.type === 'Ready');
      return `Read the Node, its Lease, events and pods: ${code(`Ready=${ready?.status ?? 'unknown'}`)}, Lease ${
        d.leaseAgeSeconds === null ? 'not found' : `${formatDuration(d.leaseAgeSeconds, 'en')} old`
      }, ${plural(d.podsOnNode.length, 'pod')} on the node, ${plural(d.events.length, 'node event')}`;
    }
    case 'network': {
      const d = e.data;
      const observers = d.observers.length;
      const answered = f.deadEverywhere ? 'no answer at any layer' : layerTallyText(f);
      const refs = d.references.filter((r) => r.result !== null);
      const refOk = refs.filter((r) => r.result?.verdict.healthy === true).length;
      return `Probed ${d.target} at L2/L3/L4/L7 from ${plural(observers, 'observer')}${d.controller === null ? '' : ' and the controller'}: ${answered}${
        refs.length === 0 ? '' : `; reference points answered ${refOk}/${refs.length}`
      }`;
    }
    case 'cloud': {
      const d = e.data;
      if (!d.found) return `Asked OpenStack about instance ${code(d.instanceId)}: not found`;
      const stops =
        f.stopAction === undefined
          ? 'no stop/shutoff'
          : `last stop-like action ${code(f.stopAction.action)}`;
      return `Asked OpenStack about instance ${code(d.instanceId)}: ${cloudStateText(d)}, host ${d.hostStatus ?? 'unknown'}, ${plural(d.actions.length, 'instance action')} (${stops}), ${plural(d.ports.length, 'port')}, console log ${
        d.consoleLogTail === null
          ? 'not captured'
          : `saved (${plural(d.consoleLogTail.length, 'line')})`
      }`;
    }
    case 'gpu': {
      const d = e.data;
      const xids = d.xids.reduce((n, x) => n + x.count, 0);
      return `Read GPU memory from ${d.origin === 'dcgm' ? 'DCGM (Prometheus)' : 'the agent’s samples'}: ${plural(d.series.length, 'series', 'series')}, ${xids === 0 ? 'no Xid counted' : plural(xids, 'Xid')}${d.fallback === undefined ? '' : ` (instead of Prometheus: ${d.fallback})`}`;
    }
    case 'kernel':
      return `Matched kernel-log signatures in ${e.data.origin === 'console' ? 'the console log' : 'the agent’s last words'}: ${
        e.data.signatures.length === 0
          ? 'none found'
          : plural(e.data.signatures.length, 'signature')
      }`;
    case 'cni': {
      const restarts = e.data.components.reduce((n, c) => n + c.restartsInWindow, 0);
      return `Checked ${e.data.plugin} components (${plural(e.data.components.length, 'pod')}): ${restarts === 0 ? 'no restarts around the outage' : plural(restarts, 'restart')}`;
    }
    case 'impact':
      return `${plural(e.data.podsDisplaced, 'pod')} displaced, requests/limits of ${plural(e.data.survivors.length, 'surviving node')}`;
  }
}

function usageLine(u: {
  cpu: { requestsPct: number; limitsPct: number };
  memory: { requestsPct: number; limitsPct: number };
}): string {
  return `CPU ${pct(u.cpu.requestsPct)} / ${pct(u.cpu.limitsPct)}, memory ${pct(u.memory.requestsPct)} / ${pct(u.memory.limitsPct)}`;
}

function cniName(plugin: string): string {
  return plugin.toLowerCase() === 'kube-ovn' ? 'Kube-OVN' : plugin;
}

function tunnelName(tunnel: string): string {
  return tunnel.charAt(0).toUpperCase() + tunnel.slice(1);
}

export const EN: Words = {
  lang: 'en',

  title(f) {
    return `${f.clock.date(f.incident.openedAt)} **${TITLE[f.verdict.rootCause]}**`;
  },

  issueDescription(f) {
    const first = [networkSentence(f), cloudSentence(f), referenceSentence(f), verdictSentence(f)]
      .filter((s) => s !== null)
      .join(' ');
    const corr = f.verdict.correlations.map((c) => `${capital(correlation(f, c))}.`);
    return paragraphs([first, corr.join(' '), consequence(f)]);
  },

  impactAssessment(f) {
    const lines: string[] = [];
    lines.push(
      f.displaced === null
        ? 'Workloads on the node: not known (no impact evidence).'
        : `Every workload on the node stopped: ${plural(f.displaced, 'pod')} displaced.`,
    );
    if (f.survivors !== null) {
      lines.push(
        `Surviving nodes overcommitted: CPU limits ${pct(f.survivors.cpuLimits.min)}–${pct(f.survivors.cpuLimits.max)}, memory limits ${pct(f.survivors.memoryLimits.min)}–${pct(f.survivors.memoryLimits.max)} of allocatable (CPU requests up to ${pct(f.survivors.cpuRequests.max)}).`,
      );
    }
    if (f.gpuCapacity.length > 0) {
      lines.push(
        `GPU capacity lost with the node: ${f.gpuCapacity.map((g) => `${g.count} × ${code(g.resource)}`).join(', ')} — ML/AI throughput reduced.`,
      );
    }
    if (f.incident.kind === 'partition')
      lines.push(`${plural(f.incident.nodes.length, 'node')} affected at once.`);
    return bullets(lines);
  },

  environmentDetails(f) {
    const info = f.k8s?.nodeInfo ?? null;
    const lines = [
      `Kubernetes ${info === null ? 'version unknown (no Kubernetes node info)' : info.kubeletVersion}`,
      f.cni === null
        ? 'CNI: unknown (no CNI evidence)'
        : `CNI: ${cniName(f.cni.plugin)}${f.cni.tunnel === null ? '' : ` (${tunnelName(f.cni.tunnel)})`}`,
    ];
    const role = f.k8s?.labels['node-role'];
    const product = f.k8s?.labels['nvidia.com/gpu.product'];
    const isMig = f.gpuCapacity.some((g) => g.resource.startsWith('nvidia.com/mig-'));
    const kind = isMig ? 'MIG-capable GPU node' : f.gpuCapacity.length > 0 ? 'GPU node' : 'node';
    const where =
      f.cloud !== null
        ? ` on ${f.cloud.provider === 'openstack' ? 'OpenStack' : f.cloud.provider}`
        : '';
    const detail = [
      role === undefined ? null : `node-role: ${role}`,
      product ?? null,
      f.cloud?.flavor == null ? null : `flavor ${f.cloud.flavor}`,
    ].filter((x) => x !== null);
    lines.push(`Node type: ${kind}${where}${detail.length === 0 ? '' : ` (${detail.join(', ')})`}`);
    lines.push(
      info === null
        ? 'OS: unknown'
        : `OS: ${info.osImage}, kernel ${info.kernelVersion}, ${info.containerRuntimeVersion}`,
    );
    return bullets(lines);
  },

  resourceInformation(f) {
    const failed = f.impact?.failedNode ?? null;
    const role = f.k8s?.labels['node-role'];
    const head = [
      `${code(f.node)}${role === undefined ? '' : ` (node-role: ${role})`}${f.ip === null ? '' : `, ${f.ip}`}`,
    ];
    if (f.cloud !== null) head.push(`OpenStack instance ${code(f.cloud.instanceId)}`);
    if (failed !== null) {
      head.push(
        `CPU requests: ${pct(failed.usage.cpu.requestsPct)}, limits: ${pct(failed.usage.cpu.limitsPct)}`,
      );
      head.push(
        `Memory requests: ${pct(failed.usage.memory.requestsPct)}, limits: ${pct(failed.usage.memory.limitsPct)}`,
      );
      if (failed.diskUsedPct !== null) head.push(`Disk used: ${pct(failed.diskUsedPct)}`);
    } else {
      head.push('Requests/limits: unknown (no impact evidence)');
    }
    const parts = [`- Failed node:\n${bullets(head, '    ')}`];
    const survivors = f.impact?.survivors ?? [];
    if (survivors.length > 0) {
      const anyBefore = survivors.some((s) => s.before !== null);
      const cell = (before: number | undefined, after: number) =>
        before === undefined ? pct(after) : `${pct(before)} → ${pct(after)}`;
      const rows = survivors.map((s) => [
        code(s.node),
        `${cell(s.before?.cpu.requestsPct, s.after.cpu.requestsPct)} / ${cell(s.before?.cpu.limitsPct, s.after.cpu.limitsPct)}`,
        `${cell(s.before?.memory.requestsPct, s.after.memory.requestsPct)} / ${cell(s.before?.memory.limitsPct, s.after.memory.limitsPct)}`,
      ]);
      parts.push(
        `- Affected nodes (resource spike), requests / limits as % of allocatable${anyBefore ? ', before → after' : ''}:`,
        table(['node', 'CPU', 'memory'], rows),
      );
    }
    return parts.join('\n\n');
  },

  symptoms(f) {
    const lines: string[] = [];
    const lease = f.k8s?.leaseAgeSeconds;
    const hb = f.incident.lastHeartbeatAt;
    lines.push(
      `${notReadyAt(f) === null ? 'Kubelet heartbeat stopped' : `${code('NodeNotReady')}, kubelet heartbeat stopped`}${
        hb === null
          ? ''
          : ` (last at ${f.clock.clock(hb)}${lease == null ? '' : `; Lease ${formatDuration(lease, 'en')} old when observed`})`
      }`,
    );
    if (f.answeredProbes > 0) {
      if (f.deadEverywhere) {
        const layers = LAYERS.filter((l) => f.tally[l].failed > 0).join('/');
        lines.push(
          `No answer at any layer (${layers}) from ${f.answeredProbes} of ${f.answeredProbes} vantage points`,
        );
      } else lines.push(`Probes: ${layerTallyText(f)}`);
    }
    for (const c of f.gpuRises) {
      lines.push(
        `GPU memory jumped ${pct(c.fromPct)} → ${pct(c.toPct)} right before the failure (correlation)`,
      );
    }
    if (f.cloud !== null && f.cloud.found) {
      lines.push(
        f.stopAction === undefined
          ? `OpenStack: instance ${cloudStateText(f.cloud)}, no shutoff/stop action recorded: not a clean shutdown`
          : `OpenStack: instance ${cloudStateText(f.cloud)}, ${code(f.stopAction.action)} recorded at ${f.clock.clock(f.stopAction.startTime)}`,
      );
    }
    for (const s of f.signatures) lines.push(`Kernel log: ${code(s.signature.title)}`);
    for (const c of f.cni?.components ?? []) {
      if (c.restartsInWindow > 0)
        lines.push(
          `${code(c.pod)} (${c.component}) restarted ${plural(c.restartsInWindow, 'time')}`,
        );
    }
    return bullets(lines);
  },

  timeline(f) {
    const lines = f.timeline.map((item) => `${eventTime(f, item.at)}: ${timelineText(f, item)}`);
    lines.push(
      `**MTTD**: ${f.mttd === null ? 'unknown (no last heartbeat)' : `${formatDuration(f.mttd, 'en')} (last heartbeat → detection)`}`,
      `**MTTR**: ${f.mttr === null ? (f.incident.resolvedAt === null ? 'not yet recovered' : 'unknown (no last heartbeat)') : `${formatDuration(f.mttr, 'en')} (last heartbeat → recovery)`}`,
    );
    return bullets(lines);
  },

  monitoringData(f) {
    const lines: string[] = [];
    if (f.gpu === null) lines.push('GPU memory: no GPU evidence');
    else {
      for (const s of f.gpu.series) {
        const pts = [...s.points].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
        const first = pts[0];
        const last = pts[pts.length - 1];
        if (first === undefined || last === undefined) continue;
        const max = Math.max(...pts.map((p) => p.usedPct));
        lines.push(
          `GPU memory, ${gpuLabel(s)}: ${pct(first.usedPct)} at ${f.clock.clock(first.at)} → ${pct(last.usedPct)} at ${f.clock.clock(last.at)} (max ${pct(max)}, ${plural(pts.length, 'sample')}, ${f.gpu.origin === 'dcgm' ? 'DCGM' : 'agent'})`,
        );
      }
      const xids = f.gpu.xids.filter((x) => x.count > 0);
      lines.push(
        xids.length === 0
          ? 'GPU Xid errors: none counted'
          : `GPU Xid errors: ${xids.map((x) => `Xid ${x.xid} ×${x.count} on GPU ${x.gpu}`).join(', ')}`,
      );
    }
    const failed = f.impact?.failedNode ?? null;
    if (failed !== null) {
      const normal = failed.usage.cpu.limitsPct <= 100 && failed.usage.memory.limitsPct <= 100;
      lines.push(
        `Failed node’s requests / limits: ${usageLine(failed.usage)}${normal ? ' (normal range)' : ''}`,
      );
      if (failed.diskUsedPct !== null)
        lines.push(`Failed node’s disk use: ${pct(failed.diskUsedPct)}`);
    }
    if (f.survivors !== null) {
      lines.push(
        `Other nodes after rescheduling: CPU limits ${pct(f.survivors.cpuLimits.min)}–${pct(f.survivors.cpuLimits.max)} overcommitted`,
      );
    }
    if (f.cni !== null) {
      const restarting = f.cni.components.filter((c) => c.restartsInWindow > 0);
      lines.push(
        restarting.length === 0
          ? `${cniName(f.cni.plugin)} components: no restarts around the outage`
          : `${cniName(f.cni.plugin)} restarts: ${restarting.map((c) => `${code(c.pod)} ×${c.restartsInWindow}`).join(', ')}`,
      );
    }
    return bullets(lines);
  },

  logsAndErrors(f) {
    const parts: string[] = [];
    const q = f.quoted;
    if (q?.result != null) {
      const lines: string[] = [];
      for (const layer of LAYERS) {
        const r = layerOf(q.result, layer);
        if (r === undefined) continue;
        if (layer === 'L2' && r.neighbourState !== undefined) {
          lines.push(
            `**${LAYER_NAME.L2}**: ${code(`ip neigh show ${q.result.target}`)} → ${code(r.neighbourState)}`,
          );
        }
        lines.push(`**${LAYER_NAME[layer]}**: ${code(r.command)} → ${code(r.detail)}`);
      }
      parts.push(
        `**Network tests per layer** (as run from ${code(q.observer)}${q.observerIP === null ? '' : `, ${q.observerIP}`}):\n${bullets(lines)}`,
      );
      const rows = f.vantage.map((v) => [
        `${v.isController ? 'controller' : code(v.observer)}${v.observerIP === null ? '' : ` (${v.observerIP})`}`,
        ...LAYERS.map((l) => {
          if (v.result === null) return l === 'L2' ? `no result: ${v.error ?? 'unknown'}` : '—';
          const r = layerOf(v.result, l);
          if (r === undefined) return '—';
          return r.layer === 'L2' && r.neighbourState !== undefined && r.status === 'failed'
            ? `failed (${r.neighbourState})`
            : LAYER_STATUS[r.status];
        }),
      ]);
      parts.push(`**Every vantage point:**\n\n${table(['vantage point', ...LAYERS], rows)}`);
    } else {
      parts.push('**Network tests per layer:** no probe result.');
    }
    if (f.references.length > 0) {
      const lines = f.references.map((r) => {
        const name = r.kind === 'ovn-gateway' ? 'OVN gateway' : 'Node gateway';
        if (r.result === null)
          return `${name} ${code(r.target)} from ${code(r.observer)}: no result (${plain(r.error ?? 'unknown')})`;
        return `${name} ${code(r.target)} from ${code(r.observer)}: ${referenceLayers(r.result)}${r.result.verdict.healthy ? 'OK' : 'FAILED'}`;
      });
      const allOk = f.references.every((r) => r.result?.verdict.healthy === true);
      const src = f.referenceSource;
      const where =
        src === null
          ? ''
          : src.from === 'observers'
            ? ' (probed by the node’s observers)'
            : ` (probed by the controller: ${plain(src.fallback ?? 'no observer answered')})`;
      parts.push(
        `**Infrastructure reference points${where}:**\n${bullets(lines)}${allOk ? '\n\nThe reference points answered: the network infrastructure itself was healthy.' : ''}`,
      );
    }
    const events = f.k8s?.events ?? [];
    if (events.length > 0) {
      parts.push(
        `**Kubernetes events:**\n${bullets(
          events.map(
            (e) =>
              `${e.at === null ? '' : `${f.clock.clock(e.at)} `}${e.type} ${code(e.reason)}: ${plain(e.message)}${e.count > 1 ? ` (×${e.count})` : ''}`,
          ),
        )}`,
      );
    }
    const c = f.cloud;
    if (c !== null) {
      const lines = [
        `${code(`openstack server show ${c.instanceId}`)} → ${
          c.found
            ? `status ${code(c.status ?? 'unknown')}, power_state ${code(c.powerState === null ? 'unknown' : powerStateLabel(c.powerState))}, task_state ${code(c.taskState ?? 'None')}, vm_state ${code(c.vmState ?? 'unknown')}, host_status ${code(c.hostStatus ?? 'unknown')}`
            : code('No server with a name or ID')
        }`,
      ];
      if (c.found) {
        const actions = [...c.actions].sort(
          (a, b) => Date.parse(a.startTime) - Date.parse(b.startTime),
        );
        lines.push(
          `${code(`openstack server event list ${c.instanceId}`)} → ${
            actions.length === 0
              ? 'no actions'
              : actions
                  .map(
                    (a) =>
                      `${code(a.action)} ${f.clock.dateTime(a.startTime)} by ${a.userId === null ? 'Nova (user_id null)' : code(a.userId)}`,
                  )
                  .join('; ')
          }${f.stopAction === undefined ? '; no stop/shutoff' : ''}`,
        );
        for (const p of c.ports) {
          lines.push(
            `${code(`openstack port show ${p.id}`)} → status ${code(p.status)}, admin_state_up ${code(String(p.adminStateUp))}`,
          );
        }
        lines.push(
          c.consoleLogTail === null
            ? `${code(`openstack console log show ${c.instanceId}`)} → not captured`
            : `${code(`openstack console log show ${c.instanceId}`)} → last ${plural(c.consoleLogTail.length, 'line')}:`,
        );
      }
      parts.push(
        `**OpenStack (Nova):**\n${bullets(lines)}${c.consoleLogTail !== null && c.consoleLogTail.length > 0 ? `\n\n${block(c.consoleLogTail)}` : ''}`,
      );
    }
    if (f.signatures.length > 0) {
      parts.push(
        `**Kernel log signatures:**\n${bullets(
          f.signatures.map(
            (s) =>
              `${code(s.signature.title)} (${s.origin === 'console' ? 'console log' : 'agent'}${s.signature.at === null ? '' : `, ${f.clock.clock(s.signature.at)}`})`,
          ),
        )}\n\n${block(f.signatures.map((s) => s.signature.line))}`,
      );
    } else {
      const kernel = f.missing.find((m) => m.source === 'kernel');
      parts.push(
        `**Kernel log signatures:** ${kernel === undefined ? 'none found' : `not available (${STATUS[kernel.status]}: ${plain(kernel.summary)})`}.`,
      );
    }
    return parts.join('\n\n');
  },

  troubleshootingSteps(f) {
    const opened = Date.parse(f.incident.openedAt);
    const since = (iso: string) => {
      const ms = Date.parse(iso) - opened;
      return `${ms >= 0 ? '+' : '−'}${formatSpan(ms, 'en')}`;
    };
    const steps: { at: string; text: string }[] = f.evidence.map((e) => ({
      at: e.observedAt,
      text: `**${f.clock.clockSeconds(e.observedAt)}** (${since(e.observedAt)} after detection${e.durationMs > 0 ? `, took ${formatMs(e.durationMs, 'en')}` : ''}) ${SOURCE[e.source]} — ${sourceStep(f, e)}`,
    }));
    steps.push({
      at: f.verdict.decidedAt,
      text: `**${f.clock.clockSeconds(f.verdict.decidedAt)}** (${since(f.verdict.decidedAt)} after detection) Root cause classified: ${code(f.verdict.rootCause)}, confidence ${f.verdict.confidence.toFixed(2)}`,
    });
    steps.push({
      at: f.generatedAt,
      text: `**${f.clock.clockSeconds(f.generatedAt)}** (${since(f.generatedAt)} after detection) Wrote this report`,
    });
    const lines = byTime(steps);
    const total = Date.parse(f.verdict.decidedAt) - opened;
    return paragraphs([
      'What NodeWarden did automatically:',
      numbered(lines),
      `From detection to root cause: ${formatSpan(Math.max(0, total), 'en')}.`,
    ]);
  },

  rootCauseAnalysis(f) {
    const v = f.verdict;
    const parts = [
      `**Verdict:** ${code(v.rootCause)} — ${MEANING[v.rootCause]}. Confidence ${v.confidence.toFixed(2)} (rule ${code(v.rule)}).`,
    ];
    if (v.rootCause === 'UNKNOWN' || v.confidence < 0.5) {
      parts.push('**Status:** cause not confirmed — the evidence below is what is known.');
    }
    parts.push(
      `**Evidence relied on:**\n${bullets(v.findings.map((x) => `${x.source === 'incident' ? 'Incident' : SOURCE[x.source]}: ${fact(f, x)}`))}`,
    );
    if (v.correlations.length > 0) {
      parts.push(
        `**Correlations (not causes):**\n${bullets(v.correlations.map((c) => capital(correlation(f, c))))}`,
      );
    }
    parts.push(
      v.missing.length === 0
        ? '**Missing evidence:** none.'
        : `**Missing evidence:**\n${bullets(v.missing.map((m) => `${SOURCE[m.source]}: ${STATUS[m.status]} — ${plain(m.summary)}`))}`,
    );
    if (v.candidates.length > 0) {
      parts.push(`**Not ruled out:** ${v.candidates.map(code).join(', ')}.`);
    }
    return parts.join('\n\n');
  },

  proposedResolution(f) {
    const long = longTermItems(f).map((i) => LONG_TERM[i]);
    return paragraphs([
      `**Immediate:**\n${bullets(IMMEDIATE[f.verdict.rootCause])}`,
      long.length === 0 ? null : `**Long term:**\n${bullets(long)}`,
    ]);
  },

  recoveryActions(f) {
    const lines = f.remediation.map(
      (r) =>
        `**${f.clock.dateTime(r.at)}**: ${code(r.action)} on ${code(r.target)} by ${r.actor} — ${RESULT[r.result]}${r.detail === '' ? '' : `: ${plain(r.detail)}`}`,
    );
    if (f.remediation.length === 0)
      lines.push('No automatic remediation was recorded for this incident.');
    const resolved = f.incident.resolvedAt;
    lines.push(
      resolved === null
        ? `Not yet recovered (open since ${f.clock.dateTime(f.incident.openedAt)}).`
        : `**${f.clock.dateTime(resolved)}**: system recovered, incident resolved${f.mttr === null ? '' : ` (MTTR ${formatDuration(f.mttr, 'en')} from the last heartbeat)`}.`,
    );
    return `**Recovery actions:**\n${bullets(lines)}`;
  },

  additionalContext(f) {
    const lines: string[] = [];
    lines.push(
      `MTTD ${f.mttd === null ? 'unknown' : formatDuration(f.mttd, 'en')}; MTTR ${
        f.mttr === null
          ? f.incident.resolvedAt === null
            ? 'not yet recovered'
            : 'unknown'
          : formatDuration(f.mttr, 'en')
      } (both from the last heartbeat).`,
    );
    const evicted = f.timeline.find((i) => i.kind === 'evicted');
    const noticed = f.incident.timeline.find((e) => e.kind === 'note');
    if (evicted !== undefined && noticed !== undefined && noticed.at > evicted.at) {
      lines.push(
        `${formatDuration((Date.parse(noticed.at) - Date.parse(evicted.at)) / 1000, 'en')} passed between the eviction and the first note by a person.`,
      );
    }
    for (const c of f.gpuRises) {
      lines.push(
        `The GPU memory rise (${pct(c.fromPct)} → ${pct(c.toPct)}) and the node going down coincide in time; causality is unproven.`,
      );
    }
    if (f.deadEverywhere && f.tally.L2.failed > 0) {
      lines.push(
        'An ARP (L2) failure from every observer on the node’s link means the node’s own network stack did not answer: the fault is in the node, not in one path.',
      );
    }
    if (f.survivors !== null && f.survivors.cpuLimits.max > 100) {
      lines.push(
        `Rescheduling the node’s workloads overcommitted the other nodes (CPU limits up to ${pct(f.survivors.cpuLimits.max)}).`,
      );
    }
    if (f.gpuCapacity.length > 0) {
      lines.push(
        'GPU capacity is hard to replace when a node is lost, so the service impact is large.',
      );
    }
    if (f.missing.length > 0) {
      lines.push(
        `Evidence not available: ${f.missing.map((m) => SOURCE[m.source]).join(', ')} (recorded as missing, never guessed).`,
      );
    }
    lines.push(
      `Report generated by NodeWarden at ${f.clock.dateTime(f.generatedAt)} from evidence it collected; times in ${f.clock.zone} (${f.clock.label(f.generatedAt)}).`,
    );
    return bullets(lines);
  },
};
