/**
 * Cluster-level detection: evaluates every node (detection.ts) at one `now`,
 * then decides what the failures mean together. Many nodes failing at once,
 * or the controller losing the API server, is one situation on our side of
 * the network — never one incident (and never one remediation) per node.
 */
import type { ApiConnection } from './cluster.ts';
import {
  DEFAULT_DETECTION_CONFIG,
  evaluateNode,
  seconds,
  type DetectionConfig,
  type NodeDetectionState,
  type NodeInput,
  type Transition,
} from './detection.ts';
import { badInput } from './errors.ts';

export interface ClusterDetectionConfig {
  readonly node: DetectionConfig;
  /** A storm needs at least this many nodes… */
  readonly stormMinNodes: number;
  /** …and at least this share of all nodes (rounded up). */
  readonly stormFraction: number;
  /** Failures that began within this span of each other count as one storm. */
  readonly stormWindowMs: number;
  /** The controller's view is stale when it has heard nothing from the API server this long. */
  readonly apiStaleAfterMs: number;
}

export const DEFAULT_CLUSTER_DETECTION_CONFIG: ClusterDetectionConfig = {
  node: DEFAULT_DETECTION_CONFIG,
  stormMinNodes: 3,
  stormFraction: 0.3,
  stormWindowMs: 30_000,
  apiStaleAfterMs: 20_000,
};

export function clusterDetectionConfig(
  overrides: Partial<ClusterDetectionConfig> = {},
): ClusterDetectionConfig {
  const config = { ...DEFAULT_CLUSTER_DETECTION_CONFIG, ...overrides };
  if (!Number.isInteger(config.stormMinNodes) || config.stormMinNodes < 2) {
    throw badInput(
      `stormMinNodes=${config.stormMinNodes} must be a whole number of at least 2`,
      'use 3 (the default): one or two nodes failing together are node incidents',
    );
  }
  if (!(config.stormFraction > 0 && config.stormFraction <= 1)) {
    throw badInput(
      `stormFraction=${config.stormFraction} must be in (0, 1]`,
      'use 0.3 (the default): 30% of the nodes',
    );
  }
  for (const key of ['stormWindowMs', 'apiStaleAfterMs'] as const) {
    if (!(config[key] > 0) || !Number.isFinite(config[key])) {
      throw badInput(
        `${key}=${config[key]} must be a positive number of milliseconds`,
        `leave ${key} unset for the default (${DEFAULT_CLUSTER_DETECTION_CONFIG[key]})`,
      );
    }
  }
  return config;
}

/** Whether the controller's own view of the cluster can be believed. */
export interface ApiTrust {
  readonly trusted: boolean;
  /** Since when `trusted` has had its current value. */
  readonly since: number;
  readonly reason: string | null;
}

/** Nodes failing together, treated as one situation. */
export interface PartitionState {
  readonly nodes: readonly string[];
  readonly since: number;
  /** Earliest and latest start of a member's failure. */
  readonly firstOnset: number;
  readonly lastOnset: number;
  readonly reason: string;
  /** The controller could not trust its view of the API when the partition formed. */
  readonly controlPlaneSide: boolean;
}

/**
 * - `normal`: every failing node is its own problem;
 * - `partition`: many nodes failed together (storm);
 * - `control-plane-side`: the controller cannot trust its view of the API.
 */
export type Situation = 'normal' | 'partition' | 'control-plane-side';

export interface ClusterDetectionState {
  readonly nodes: ReadonlyMap<string, NodeDetectionState>;
  /**
   * When each node's outcome could next change without new evidence (a Lease
   * threshold, an observation leaving the window, the stable period): an
   * incremental evaluation looks again at a node that is due or has changed.
   */
  readonly due: ReadonlyMap<string, number>;
  readonly api: ApiTrust;
  readonly partition: PartitionState | null;
}

export interface ClusterInput {
  readonly connection: ApiConnection;
  /** Every node in the cluster; nodes missing here are dropped from the state. */
  readonly nodes: readonly NodeInput[];
}

/**
 * What changed since the previous evaluation, for an incremental one: the
 * cluster's node names, which of them have new evidence, and a way to read a
 * node's evidence — asked only for the nodes that need evaluating, so a
 * 5,000-node cluster with 500 Lease renewals a second costs a few hundred
 * node evaluations a second, not 5,000 per evaluation.
 */
export interface ClusterChanges {
  readonly connection: ApiConnection;
  /** Every node now in the cluster; nodes missing here are dropped from the state. */
  readonly names: Iterable<string>;
  /** Nodes whose Lease, Ready condition or observations changed; `all` evaluates every node. */
  readonly changed: ReadonlySet<string> | 'all';
  /** A node's evidence now. */
  readonly input: (node: string) => NodeInput;
}

export interface ClusterEvaluation {
  readonly state: ClusterDetectionState;
  /** Nodes evaluated this time (the rest kept their state: unchanged and not due). */
  readonly evaluated: number;
  readonly situation: Situation;
  readonly transitions: readonly Transition[];
  readonly partitionChange: 'formed' | 'grown' | 'ended' | null;
  readonly nextCheckAt: number;
}

/**
 * Evaluates the whole cluster at `now`. Rules:
 * - API trust: the controller's view is stale when the connection is down
 *   or nothing arrived from the API server for `apiStaleAfterMs`. While it
 *   is stale, Lease age and Ready are not evidence: every node is evaluated
 *   with `leaseTrusted: false`, so no node goes Down for its Lease alone
 *   (the mesh still counts: agents report to the controller directly).
 * - Storm: when at least max(stormMinNodes, ⌈stormFraction × nodes⌉) nodes
 *   are Suspect or Down and their failures began within `stormWindowMs` of
 *   each other, they form one partition. Failing nodes are counted at
 *   Suspect, before any is Down, so the partition exists before any node
 *   incident could open.
 * - A node whose failure begins within `stormWindowMs` of the partition's
 *   member failures joins it; a node that failed well before or after stays
 *   a node problem.
 * - The partition ends when every member is Healthy again (Recovering
 *   members keep it open) or has left the cluster.
 */
export function detectCluster(
  previous: ClusterDetectionState | null,
  input: ClusterInput,
  now: number,
  config: ClusterDetectionConfig = DEFAULT_CLUSTER_DETECTION_CONFIG,
): ClusterEvaluation {
  const byName = new Map(input.nodes.map((n) => [n.node, n]));
  return detectClusterChanges(
    previous,
    {
      connection: input.connection,
      names: byName.keys(),
      changed: 'all',
      input: (node) => byName.get(node) ?? missingInput(node),
    },
    now,
    config,
  );
}

/**
 * The same evaluation as detectCluster, looking only at the nodes whose
 * outcome can differ from the previous one; every other node keeps its state
 * and its due time. A node is evaluated when any of:
 * - it is new, or listed in `changed` (or `changed` is `all`);
 * - its due time has come (`now` ≥ its previous nextCheckAt);
 * - the API trust changed (trusted or not, or since when): Lease age and
 *   Ready count differently for every node then.
 * The storm and partition rules then run over every node's state, as in
 * detectCluster; their cost is a pass over the failing nodes.
 */
export function detectClusterChanges(
  previous: ClusterDetectionState | null,
  changes: ClusterChanges,
  now: number,
  config: ClusterDetectionConfig = DEFAULT_CLUSTER_DETECTION_CONFIG,
): ClusterEvaluation {
  const api = apiTrust(previous?.api ?? null, changes.connection, now, config);
  const changed = changes.changed === 'all' ? null : changes.changed;
  const everyNode =
    changed === null ||
    previous === null ||
    previous.api.trusted !== api.trusted ||
    previous.api.since !== api.since;
  const nodes = new Map<string, NodeDetectionState>();
  const due = new Map<string, number>();
  const transitions: Transition[] = [];
  let nextCheckAt = now + config.node.maxCheckIntervalMs;
  let evaluated = 0;
  for (const name of changes.names) {
    const before = previous?.nodes.get(name);
    const dueAt = previous?.due.get(name);
    const keep =
      !everyNode &&
      before !== undefined &&
      dueAt !== undefined &&
      dueAt > now &&
      !changed.has(name);
    if (keep) {
      nodes.set(name, before);
      due.set(name, dueAt);
      nextCheckAt = Math.min(nextCheckAt, dueAt);
      continue;
    }
    const evaluation = evaluateNode(before, changes.input(name), now, config.node, {
      leaseTrusted: api.trusted,
      trustedSince: api.since,
    });
    evaluated += 1;
    nodes.set(name, evaluation.state);
    due.set(name, evaluation.nextCheckAt);
    if (evaluation.transition !== null) transitions.push(evaluation.transition);
    nextCheckAt = Math.min(nextCheckAt, evaluation.nextCheckAt);
  }
  if (api.trusted && changes.connection.lastContactAt !== null) {
    // When the view goes stale, Lease age stops counting: look again then.
    const staleAt = Date.parse(changes.connection.lastContactAt) + config.apiStaleAfterMs + 1;
    if (staleAt > now) nextCheckAt = Math.min(nextCheckAt, staleAt);
  }

  const { partition, change } = nextPartition(previous?.partition ?? null, nodes, api, now, config);
  const situation: Situation = !api.trusted
    ? 'control-plane-side'
    : partition !== null
      ? 'partition'
      : 'normal';
  return {
    state: { nodes, due, api, partition },
    evaluated,
    situation,
    transitions,
    partitionChange: change,
    nextCheckAt,
  };
}

function missingInput(node: string): never {
  throw badInput(
    `no evidence for node ${node}`,
    'every name in ClusterChanges.names needs an input',
  );
}

function apiTrust(
  previous: ApiTrust | null,
  connection: ApiConnection,
  now: number,
  config: ClusterDetectionConfig,
): ApiTrust {
  const contact = connection.lastContactAt === null ? null : Date.parse(connection.lastContactAt);
  let reason: string | null = null;
  if (!connection.connected) {
    reason = `the controller cannot reach the API server${connection.error === null ? '' : `: ${connection.error}`}`;
  } else if (contact === null || !Number.isFinite(contact)) {
    reason = 'the controller has not heard from the API server yet';
  } else if (now - contact > config.apiStaleAfterMs) {
    reason = `the controller has heard nothing from the API server for ${seconds(now - contact)}`;
  }
  const trusted = reason === null;
  const since = previous !== null && previous.trusted === trusted ? previous.since : now;
  return { trusted, since, reason };
}

function isFailing(state: NodeDetectionState): boolean {
  return (state.health === 'Suspect' || state.health === 'Down') && state.failingSince !== null;
}

function nextPartition(
  previous: PartitionState | null,
  nodes: ReadonlyMap<string, NodeDetectionState>,
  api: ApiTrust,
  now: number,
  config: ClusterDetectionConfig,
): { partition: PartitionState | null; change: ClusterEvaluation['partitionChange'] } {
  const failing = [...nodes.values()]
    .filter(isFailing)
    .sort((a, b) => (a.failingSince ?? 0) - (b.failingSince ?? 0) || a.node.localeCompare(b.node));

  if (previous !== null) {
    const members = previous.nodes.filter((name) => nodes.has(name));
    const stillOpen = members.some((name) => nodes.get(name)?.health !== 'Healthy');
    if (!stillOpen) return { partition: null, change: 'ended' };
    const joiners = failing.filter(
      (s) =>
        !members.includes(s.node) &&
        (s.failingSince ?? 0) >= previous.firstOnset - config.stormWindowMs &&
        (s.failingSince ?? 0) <= previous.lastOnset + config.stormWindowMs,
    );
    if (joiners.length === 0 && members.length === previous.nodes.length) {
      return { partition: previous, change: null };
    }
    const onsets = joiners.map((s) => s.failingSince ?? now);
    return {
      partition: {
        ...previous,
        nodes: [...members, ...joiners.map((s) => s.node)].sort(),
        firstOnset: Math.min(previous.firstOnset, ...onsets),
        lastOnset: Math.max(previous.lastOnset, ...onsets),
      },
      change: joiners.length > 0 ? 'grown' : null,
    };
  }

  const threshold = Math.max(config.stormMinNodes, Math.ceil(config.stormFraction * nodes.size));
  // Largest group of failure onsets within one window (two pointers over the sorted onsets).
  let best: NodeDetectionState[] = [];
  for (let start = 0, end = 0; start < failing.length; start++) {
    const first = failing[start]?.failingSince ?? 0;
    while (
      end < failing.length &&
      (failing[end]?.failingSince ?? 0) - first <= config.stormWindowMs
    )
      end++;
    if (end - start > best.length) best = failing.slice(start, end);
  }
  if (best.length < threshold) return { partition: null, change: null };
  const onsets = best.map((s) => s.failingSince ?? now);
  return {
    partition: {
      nodes: best.map((s) => s.node).sort(),
      since: now,
      firstOnset: Math.min(...onsets),
      lastOnset: Math.max(...onsets),
      reason: `${best.length} of ${nodes.size} nodes began failing within ${seconds(Math.max(...onsets) - Math.min(...onsets))} of each other (storm threshold ${threshold})`,
      controlPlaneSide: !api.trusted,
    },
    change: 'formed',
  };
}
