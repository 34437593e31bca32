/**
 * The controller's scheduled stability tests (`--stability-schedule`): the
 * `StabilityScheduler` wired to the controller's cluster view, incidents,
 * leader election and store, running the same test `nodewarden
 * stability-test` runs (probes from the controller, the load Job in
 * `--stability-namespace`) and storing it the same way; its /metrics.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import type { NodeSnapshot } from '../core/cluster.ts';
import { systemClock } from '../core/clock.ts';
import type { Incident } from '../core/incident.ts';
import type { Logger } from '../core/logger.ts';
import type { CronSchedule, LabelRequirement } from '../core/stability-schedule.ts';
import { DcgmExporterSampler } from '../gpu/gpu-sampler.ts';
import { LinuxProber } from '../probe/linux-prober.ts';
import { collectedGauge } from '../server/gauge.ts';
import { kubeLoadJobs } from '../stability/kube-jobs.ts';
import {
  prepareStabilityTest,
  stabilityAuditRecord,
  type StabilityTestSettings,
} from '../stability/prepare.ts';
import { lastTested, listStabilityTests } from '../stability/stored.ts';
import { runStabilityTest } from '../stability/run.ts';
import { StabilityScheduler, type ScheduledVerdict } from '../stability/scheduler.ts';
import type { IncidentStore } from '../store/port.ts';

/** `--stability-schedule` and the flags that go with it. */
export interface StabilityScheduleOptions {
  readonly schedule: CronSchedule;
  /** null: every node that offers a GPU to pods. */
  readonly selector: readonly LabelRequirement[] | null;
  readonly settings: StabilityTestSettings;
}

export interface StabilityScheduleDeps {
  readonly kc: KubeConfig;
  readonly nodes: () => readonly NodeSnapshot[];
  readonly incidents: () => readonly Incident[];
  /** Leader and caches synced. */
  readonly isLeader: () => boolean;
  readonly assertLeader: (action: string) => void;
  readonly store: IncidentStore;
  readonly registry: Registry;
  readonly actor: string;
  readonly log: Logger;
}

const VERDICTS: readonly ScheduledVerdict[] = ['pass', 'fail', 'inconclusive', 'error'];

export function startStabilitySchedule(
  o: StabilityScheduleOptions,
  d: StabilityScheduleDeps,
): StabilityScheduler {
  const jobs = kubeLoadJobs(d.kc);
  const scheduler = new StabilityScheduler({
    clock: systemClock,
    schedule: o.schedule,
    selector: o.selector,
    nodes: d.nodes,
    openIncidents: () => d.incidents().filter((i) => i.status === 'open').length,
    isLeader: d.isLeader,
    runTest: (node, signal) => {
      const { input, dcgmUrl } = prepareStabilityTest(d.nodes(), node, o.settings, Date.now());
      const log = d.log.child({
        node,
        job: `${input.job.metadata.namespace}/${input.job.metadata.name}`,
      });
      return runStabilityTest(
        input,
        {
          jobs,
          prober: new LinuxProber(),
          gpu: dcgmUrl === null ? null : new DcgmExporterSampler({ url: dcgmUrl, timeoutMs: 900 }),
          logger: log,
          progress: (line) => log.log('info', 'stability test', { progress: line }),
        },
        signal,
      );
    },
    record: async (run) => {
      d.assertLeader(`store the stability test of ${run.node}`);
      await d.store.appendAudit(stabilityAuditRecord(run, d.actor));
    },
    history: async () => lastTested(await listStabilityTests(d.store)),
    log: d.log,
  });

  collectedGauge(
    d.registry,
    'nodewarden_stability_test_running',
    '1 for the node a scheduled stability test is running on',
    ['node'],
    (g) => {
      g.reset();
      const running = scheduler.status().running;
      if (running !== null) g.set({ node: running }, 1);
    },
  );
  collectedGauge(
    d.registry,
    'nodewarden_stability_last_run_timestamp_seconds',
    "When each node's last scheduled stability test ended",
    ['node'],
    (g) => {
      g.reset();
      for (const r of scheduler.status().outcomes) g.set({ node: r.node }, r.endedMs / 1000);
    },
  );
  collectedGauge(
    d.registry,
    'nodewarden_stability_last_result',
    "1 for the verdict of each node's last scheduled stability test (pass, fail, inconclusive, error)",
    ['node', 'verdict'],
    (g) => {
      g.reset();
      for (const r of scheduler.status().outcomes) {
        for (const v of VERDICTS) g.set({ node: r.node, verdict: v }, v === r.verdict ? 1 : 0);
      }
    },
  );
  new Counter({
    name: 'nodewarden_stability_runs_total',
    help: 'Scheduled stability tests that ended on this replica, by verdict',
    labelNames: ['verdict'],
    registers: [d.registry],
    collect() {
      this.reset();
      const { runs } = scheduler.status();
      for (const v of VERDICTS) this.inc({ verdict: v }, runs[v]);
    },
  });
  new Counter({
    name: 'nodewarden_stability_slots_skipped_total',
    help: 'Schedule slots given up on this replica: no selected node Ready, or a test still running',
    registers: [d.registry],
    collect() {
      this.reset();
      this.inc(scheduler.status().skippedSlots);
    },
  });
  return scheduler;
}
