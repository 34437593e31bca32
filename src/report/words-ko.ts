/**
 * 한국어 보고서. 2025-08-25 원본 보고서(incident-2025-08-25.ko.md)의 문체를
 * 따른다: 섹션 제목은 원본처럼 영어, 본문은 "~확인", "~발생", "~추정됨" 같은
 * 명사형 종결. 무엇을 말할지는 facts.ts/words.ts가 정하고 여기서는 표현만 한다.
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
  NODE_HALTED: '노드 시스템 정지로 인한 전 계층 네트워크 단절 및 NodeNotReady 발생',
  NODE_POWERED_OFF: '노드 전원 꺼짐으로 인한 kubelet 통신 장애 및 NodeNotReady 발생',
  NODE_DELETED: '노드 인스턴스 삭제로 인한 클러스터 노드 유실',
  HOST_NETWORK_DOWN: '노드 호스트 네트워크 단절로 인한 kubelet 통신 장애 및 NodeNotReady 발생',
  KUBELET_DOWN: 'kubelet 중단으로 인한 NodeNotReady 발생',
  KUBELET_HUNG: 'kubelet 응답 없음(hang)으로 인한 NodeNotReady 발생',
  PARTIAL_PARTITION: '부분 네트워크 분할로 인한 노드 간 통신 장애',
  OVERLAY_DATAPATH: '오버레이(Kube-OVN) 데이터패스 장애로 인한 파드 네트워크 단절',
  GPU_FAULT: 'GPU 장애(Xid)로 인한 노드 다운 및 NodeNotReady 발생',
  OOM_KILLED_NETWORK: 'OOM으로 네트워크 데몬이 종료되어 노드 네트워크 단절 발생',
  PLANNED_MAINTENANCE: '계획된 유지보수로 인한 노드 중단',
  CONTROL_PLANE_SIDE: '컨트롤 플레인 측 네트워크 분할로 인한 다수 노드 NotReady 발생',
  UNKNOWN: '원인 미상의 노드 장애 및 NodeNotReady 발생',
};

const MEANING: Readonly<Record<RootCause, string>> = {
  NODE_HALTED: '클라우드상 VM은 실행 중이나 노드 시스템 자체가 멈춘 상태(hang, crash 또는 panic)',
  NODE_POWERED_OFF: 'VM 전원이 꺼진 상태',
  NODE_DELETED: 'VM이 삭제되어 더 이상 존재하지 않음',
  HOST_NETWORK_DOWN: '노드는 동작 중이나 호스트 네트워크가 단절된 상태',
  KUBELET_DOWN: '호스트는 살아 있으나 kubelet이 동작하지 않는 상태',
  KUBELET_HUNG: 'kubelet 프로세스는 있으나 응답하지 않는 상태(hang)',
  PARTIAL_PARTITION: '네트워크가 분할되어 일부 노드에서만 이 노드에 도달 가능한 상태',
  OVERLAY_DATAPATH: '호스트 네트워크는 정상이나 파드 네트워크(오버레이 데이터패스)가 깨진 상태',
  GPU_FAULT: 'GPU 장애(치명적 Xid)로 노드가 다운된 상태',
  OOM_KILLED_NETWORK: '커널 OOM killer가 노드의 네트워크 데몬을 종료시킨 상태',
  PLANNED_MAINTENANCE: '유지보수를 위해 의도적으로 노드를 내린 상태',
  CONTROL_PLANE_SIDE: '개별 노드가 아닌 컨트롤 플레인 측 문제(네트워크 분할 또는 API 접근 불가)',
  UNKNOWN: '수집된 증거만으로는 원인을 특정할 수 없음',
};

const IMMEDIATE: Readonly<Record<RootCause, readonly string[]>> = {
  NODE_HALTED: [
    '재부팅 전에 콘솔 로그 확보 (하드 리부트 시 유실됨)',
    '노드 cordon 및 taint 적용',
    'Nova로 소프트 리부트, 복구되지 않으면 하드 리부트',
    '노드가 꺼졌거나 재부팅 중임을 확인한 뒤 `node.kubernetes.io/out-of-service` taint 적용 (StatefulSet 파드 및 볼륨 이동 허용)',
    'Ready 복귀 확인 후 taint 제거, 계속 응답이 없으면 머신 교체(Cluster API) 또는 담당자 에스컬레이션',
  ],
  NODE_POWERED_OFF: [
    'Nova 전원 동기화로 꺼진 경우(`user_id` null) 인스턴스 시작, 사람이 끈 경우 당사자에게 먼저 확인',
    '꺼져 있는 동안 `node.kubernetes.io/out-of-service` taint 적용 (StatefulSet 파드 및 볼륨 이동 허용)',
    'Ready 복귀 확인 후 taint 제거',
  ],
  NODE_DELETED: [
    'CCM이 정리하지 않았다면 Node 오브젝트 삭제',
    'Cluster API 또는 오토스케일러로 머신 교체, 볼륨 분리를 위해 `node.kubernetes.io/out-of-service` taint 적용',
  ],
  HOST_NETWORK_DOWN: [
    '외부에서 노드 인터페이스 재설정: Neutron 포트 `admin_state_up` 토글 또는 Nova로 인터페이스 분리 후 재연결',
    '계속 단절 상태이면 시스템 정지 노드와 같은 절차 수행: 콘솔 로그 확보, cordon, 소프트 → 하드 리부트',
  ],
  KUBELET_DOWN: [
    '노드에서 kubelet 재시작(`systemctl restart kubelet`) 및 중단 원인 확인(`journalctl -u kubelet`)',
    'uncordon 전에 컨테이너 런타임 상태 확인(`crictl info`)',
  ],
  KUBELET_HUNG: [
    'kubelet 로그 및 goroutine 덤프 확보 후 kubelet 재시작',
    '컨테이너 런타임 및 디스크 압박 여부 점검 (런타임 호출이 멈추면 kubelet도 멈출 수 있음)',
  ],
  PARTIAL_PARTITION: [
    '노드 재부팅 금지: 클러스터 일부에서는 정상 동작 중',
    '도달 가능한 관측 노드 그룹과 불가능한 그룹 사이의 경로 점검 (보안 그룹, OVN 터널, MTU, 라우팅)',
  ],
  OVERLAY_DATAPATH: [
    '해당 노드의 `ovs-ovn`, `kube-ovn-cni` 재시작',
    'Geneve 터널(`ovs-vsctl show`, `ovn-sbctl show`) 및 노드 chassis 등록 상태 점검',
  ],
  GPU_FAULT: [
    '노드의 GPU 워크로드 drain',
    'GPU 리셋(`nvidia-smi -r`) 또는 노드 재부팅, Xid 기준으로 드라이버·펌웨어 버전 점검',
  ],
  OOM_KILLED_NETWORK: [
    '노드의 openvswitch/ovn-controller 재시작 또는 노드 재부팅',
    '메모리를 소진한 워크로드를 찾아 OVS/OVN과 해당 워크로드에 메모리 requests/limits 설정',
  ],
  PLANNED_MAINTENANCE: [
    '복구 대상 아님: 유지보수 담당자에게 노드 복귀 시점 확인',
    'drain 과정에서 PodDisruptionBudget이 지켜졌는지 확인',
  ],
  CONTROL_PLANE_SIDE: [
    '노드 복구 조치 금지: 컨트롤러와 API 서버 간 연결부터 복구',
    '컨트롤 플레인이 노드를 다시 인식한 뒤 노드 상태 재확인',
  ],
  UNKNOWN: [
    'Root Cause Analysis의 누락된 증거를 수집한 뒤 진단 재실행',
    '서비스 중단을 동반하는 조치는 담당자가 판단',
  ],
};

const LONG_TERM: Readonly<Record<LongTermItem, string>> = {
  'gpu-driver-compat': 'GPU 노드의 GPU 드라이버·펌웨어와 네트워크 드라이버 버전 호환성 점검',
  'gpu-load-network-test':
    'GPU/MIG 노드에서 GPU 작업 시 네트워크 안정성 테스트 자동화 (수시 및 정기 실행)',
  'mig-limits': 'MIG 워크로드에 CPU/메모리 limits 및 Guaranteed QoS 적용, 어드미션 정책으로 강제',
  'capacity-guard':
    '노드별로 "이 노드가 다운되면" 발생할 오버커밋을 점검하고 파드 이동 전에 미리 보고',
  'last-words': '에이전트의 커널 로그 전송(last words)과 재부팅 전 콘솔 로그 보존 여부 확인',
  'cloud-provider': 'OpenStack 연동을 설정하여 인스턴스 상태·작업 이력·콘솔 로그 수집',
  alerting: '인시던트 생성 즉시 알림 발송 (Slack 웹훅, Alertmanager)',
  'auto-remediation':
    '안전장치를 갖춘 노드 장애 자동 복구 활성화 (dry-run 또는 승인 모드부터 적용)',
};

const SOURCE: Readonly<Record<EvidenceSource, string>> = {
  kubernetes: 'Kubernetes',
  network: '네트워크',
  cloud: '클라우드(OpenStack)',
  gpu: 'GPU',
  kernel: '커널 로그',
  cni: 'CNI',
  impact: '영향 범위',
};

const STATUS: Readonly<Record<Exclude<EvidenceStatus, 'ok'>, string>> = {
  missing: '없음',
  error: '오류',
  timeout: '시간 초과',
};

const LAYER_NAME: Readonly<Record<Layer, string>> = {
  L2: 'L2 (ARP 레벨)',
  L3: 'L3 (IP 레벨)',
  L4: 'L4 (TCP 레벨)',
  L7: 'L7 (HTTPS)',
};

const LAYER_STATUS: Readonly<Record<LayerStatus, string>> = {
  ok: '정상',
  failed: '실패',
  skipped: '생략',
};

const RESULT: Readonly<Record<RemediationResult, string>> = {
  succeeded: '성공',
  failed: '실패',
  skipped: '건너뜀',
  refused: '안전장치로 거부됨',
  'dry-run': 'dry-run (실제 실행 안 함)',
};

function gpuLabel(c: {
  gpu: string;
  migInstance: string | null;
  migProfile: string | null;
}): string {
  if (c.migInstance === null) return `GPU ${c.gpu}`;
  return `GPU ${c.gpu} MIG ${c.migProfile === null ? '' : `${c.migProfile} `}인스턴스 ${c.migInstance}`;
}

const pct = formatPct;
const dur = (s: number) => formatDuration(s, 'ko');

function cloudStateText(s: {
  status: string | null;
  powerState: Parameters<typeof powerStateLabel>[0] | null;
}): string {
  return `${s.status ?? '알 수 없음'} / ${s.powerState === null ? '전원 상태 알 수 없음' : powerStateLabel(s.powerState)}`;
}

function referenceNames(kinds: readonly ('gateway' | 'ovn-gateway')[]): string {
  return kinds.map((k) => (k === 'ovn-gateway' ? 'OVN 게이트웨이' : '노드 게이트웨이')).join('와 ');
}

function fact(f: ReportFacts, x: Finding): string {
  const t = (iso: string | null) => (iso === null ? '기록 없음' : f.clock.dateTime(iso));
  switch (x.kind) {
    case 'partition-incident':
      return `노드 ${x.nodes}대가 동시에 장애 — 노드별 장애 ${x.nodes}건이 아닌 하나의 분할 장애로 판단`;
    case 'api-unreachable':
      return `컨트롤러가 API 서버에 접근 불가 (마지막 통신: ${t(x.lastContactAt)})`;
    case 'many-not-ready':
      return `전체 ${x.total}대 중 ${x.notReady}대가 동시에 NotReady`;
    case 'instance-gone':
      return `OpenStack에 인스턴스 ${code(x.instanceId)}가 더 이상 존재하지 않음${x.status === null ? '' : ` (status ${x.status})`}`;
    case 'node-object-gone':
      return `Kubernetes API에서 Node 오브젝트 ${code(x.node)}가 사라짐`;
    case 'cloud-state':
      return `OpenStack상 인스턴스 상태 ${cloudStateText(x)} (task_state ${x.taskState ?? 'None'}, vm_state ${x.vmState ?? '알 수 없음'})`;
    case 'stop-action':
      return x.userId === null
        ? `${t(x.at)}에 Nova가 직접 ${code(x.action)} 수행 (user_id null: 전원 상태 동기화 과정에서 VM 꺼짐 감지)`
        : `${t(x.at)}에 사용자 ${code(x.userId)}가 ${code(x.action)} 수행`;
    case 'no-stop-action':
      return `인스턴스 작업 이력 ${x.actions}건 중 stop/shutoff 없음 — 정상 종료 아님`;
    case 'cordoned':
      return `마지막 heartbeat 이전(${t(x.since)})부터 cordon 상태`;
    case 'maintenance-marker':
      return `노드에 유지보수 ${x.on === 'annotation' ? '어노테이션' : 'taint'} ${code(x.key)} 설정됨`;
    case 'user-reboot':
      return `${t(x.at)}에 사용자 ${code(x.userId)}가 ${code(x.action)} 시작 (task_state ${x.taskState ?? 'None'})`;
    case 'all-dead':
      return `관측 지점 ${x.vantagePoints}곳 모두 전 계층 응답 없음, 같은 링크의 ${x.l2Failed}곳 모두 ARP 실패${
        x.l2Untested > 0 ? ` (나머지 ${x.l2Untested}곳은 라우팅 경로라 L2 확인 불가)` : ''
      }`;
    case 'split':
      return `${x.reached.map(code).join(', ')}에서는 도달 가능, ${x.unreached.map(code).join(', ')}에서는 도달 불가`;
    case 'arp-only':
      return `관측 지점 ${x.l2Ok}곳에서 ARP 응답은 있으나 ${x.vantagePoints}곳 모두 IP 통신 불가 — 커널은 살아 있으나 IP 경로 장애`;
    case 'dead-l2-untested':
      return `관측 지점 ${x.vantagePoints}곳 모두 응답 없음, 다만 같은 링크에 있는 관측 지점이 없어 L2 확인 불가`;
    case 'reached-l3':
      return `관측 지점 ${x.vantagePoints}곳 모두 IP 계층(L3)으로 도달 가능`;
    case 'l4-refused':
      return `${x.tested}곳 중 ${x.refused}곳에서 TCP :10250 연결 거부(${code('ECONNREFUSED')}) — 호스트는 살아 있으나 kubelet이 포트를 열고 있지 않음`;
    case 'l7-failed':
      return `TCP :10250 연결은 되나 HTTPS /healthz가 ${x.tested}곳 중 ${x.failed}곳에서 실패(${code(x.detail)})${x.timeout ? ' — kubelet 응답 없음(hang)' : ''}`;
    case 'l4-timeout':
      return `ICMP는 응답하나 TCP :10250이 ${x.tested}곳 중 ${x.failed}곳에서 타임아웃`;
    case 'all-layers-answer':
      return `관측 지점 ${x.vantagePoints}곳 모두 전 계층 정상 응답`;
    case 'few-vantage-points':
      return `결과를 돌려준 관측 지점이 ${x.vantagePoints}곳뿐이라 근거가 약함`;
    case 'no-vantage-result':
      return `요청한 관측 지점 ${x.asked}곳 모두 프로브 결과를 돌려주지 않음`;
    case 'references-ok':
      return x.from === 'observers'
        ? `해당 노드의 관측 노드(${x.observers.map(code).join(', ')})에서 ${referenceNames(x.kinds)}는 정상 응답(프로브 ${x.probes}회) — 네트워크는 정상, 노드만 응답 없음`
        : `컨트롤러에서 ${referenceNames(x.kinds)}는 정상 응답(프로브 ${x.probes}회, 관측 노드 응답 없음) — 네트워크 코어는 정상, 관측 노드 측 경로는 미확인`;
    case 'references-failed':
      return x.from === 'observers' && x.observers.length * 2 > x.of
        ? `관측 노드 ${x.of}대 중 ${x.observers.length}대(${x.observers.map(code).join(', ')})에서도 기준점(게이트웨이, OVN 게이트웨이) 프로브 실패(${x.total}건 중 ${x.failed}건) — 노드 장애가 아니라 노드 주변 네트워크 장애로 판단`
        : `기준점(게이트웨이, OVN 게이트웨이) 프로브 ${x.total}건 중 ${x.failed}건도 실패${x.from === 'controller' ? '(컨트롤러에서)' : ''} — 관측 지점 측 경로 문제 가능성`;
    case 'hypervisor':
      return x.hostStatus === 'UP'
        ? '하이퍼바이저 정상 (host_status UP)'
        : `하이퍼바이저 host_status ${x.hostStatus} — Nova의 VM 상태 정보가 최신이 아닐 수 있음`;
    case 'port-down':
      return `Neutron 포트 ${code(x.id)} 상태 ${x.status}${x.adminStateUp ? '' : ' (admin_state_up false)'}`;
    case 'guest-sending':
      return `단절 이후 ${x.seconds}초 동안 게스트 NIC가 패킷 ${x.toPackets - x.fromPackets}개 송신 — VM은 동작 중이나 패킷이 전달되지 않음`;
    case 'signature':
      return `커널 로그 ${code(x.signature.title)} ${
        x.signature.at === null ? '(시각 정보 없음)' : `(${t(x.signature.at)})`
      }${x.beforeCut === false ? ', 장애 시간대 밖' : ''}: ${code(x.signature.line)}`;
    case 'xid-counted':
      return `DCGM 집계: GPU ${x.gpu}에서 Xid ${x.xid} ${x.count}회${x.lastAt === null ? '' : ` (마지막 ${t(x.lastAt)})`}`;
    case 'no-signature':
      return `${x.origins.map((o) => (o === 'console' ? '콘솔 로그' : '에이전트 마지막 로그')).join('와 ')}에서 알려진 장애 시그니처 없음`;
    case 'overlay-failed':
      return `언더레이는 정상 응답하나 파드 네트워크(오버레이) 점검 ${x.total}건 중 ${x.failed}건 실패`;
    case 'cni-restarts':
      return `장애 전후 ${code(x.node)}의 ${code(x.pod)}(${x.component}) ${x.restarts}회 재시작`;
    case 'lease-stale':
      return `관측 시점 기준 노드 Lease가 ${dur(x.ageSeconds)} 동안 갱신되지 않음`;
  }
}

function correlation(f: ReportFacts, c: Correlation): string {
  switch (c.kind) {
    case 'gpu-memory-rise':
      return `마지막 heartbeat(${f.clock.clock(c.heartbeatAt)}) 직전 ${c.windowMinutes}분 사이 GPU 메모리 사용량(${gpuLabel(c)}) ${pct(c.fromPct)} → ${pct(c.toPct)} 상승 (${f.clock.clock(c.toAt)}에 ${pct(c.toPct)} 도달) — 시간적 상관관계일 뿐 인과관계는 미확정`;
    case 'xid-before-heartbeat':
      return `마지막 heartbeat 이전 GPU ${c.gpu}에서 Xid ${c.xid} ${c.count}회 집계 (마지막 ${f.clock.clock(c.lastAt)}) — 상관관계일 뿐 인과관계는 미확정`;
  }
}

function vantagePhrase(f: ReportFacts): string {
  const observers = f.vantage.filter((v) => v.result !== null && !v.isController).length;
  const controller = f.vantage.some((v) => v.result !== null && v.isController);
  const parts = [
    observers > 0 ? `관측 노드 ${observers}대` : null,
    controller ? '컨트롤러' : null,
  ].filter((p) => p !== null);
  return `관측 지점 ${f.answeredProbes}곳(${parts.join('와 ')})`;
}

function layerTallyText(f: ReportFacts): string {
  return LAYERS.map((l) => {
    const t = f.tally[l];
    const tested = t.ok + t.failed;
    if (tested === 0) return `${l} 확인 불가`;
    return t.failed === 0 ? `${l} 정상 ${t.ok}/${tested}` : `${l} 실패 ${t.failed}/${tested}`;
  }).join(', ');
}

function networkSentence(f: ReportFacts): string {
  const node = `노드 ${code(f.node)}${f.ip === null ? '' : `(${f.ip})`}`;
  if (f.answeredProbes === 0) return `${node}에 대해 프로브 결과를 돌려준 관측 지점이 없음.`;
  if (f.deadEverywhere) {
    return `${node}에서 **네트워크 계층 전체 단절**이 발생하여 ${vantagePhrase(f)} 모두에서 L2(ARP), L3(ICMP), L4(TCP :10250), L7(HTTPS /healthz) 전 계층 응답 없음.`;
  }
  return `${node}를 ${vantagePhrase(f)}에서 점검한 결과: ${layerTallyText(f)}.`;
}

function cloudSentence(f: ReportFacts): string {
  const c = f.cloud;
  if (c === null) {
    const m = f.missing.find((x) => x.source === 'cloud');
    return `클라우드 증거 확보 불가 (${m === undefined ? '없음' : `${STATUS[m.status]}: ${plain(m.summary)}`}).`;
  }
  if (!c.found) return `OpenStack에 인스턴스 ${code(c.instanceId)}가 존재하지 않음.`;
  const stop = f.stopAction;
  const state = `OpenStack상 인스턴스는 ${cloudStateText(c)} 상태이며`;
  if (stop === undefined) return `${state} stop/shutoff 이력 없음.`;
  return stop.userId === null
    ? `${state}, ${f.clock.clock(stop.startTime)}에 Nova 전원 동기화로 ${code(stop.action)} 처리됨.`
    : `${state}, ${f.clock.clock(stop.startTime)}에 사용자 ${code(stop.userId)}가 ${code(stop.action)} 수행.`;
}

function referenceSentence(f: ReportFacts): string | null {
  const x = f.verdict.findings.find(
    (v) => v.kind === 'references-ok' || v.kind === 'references-failed',
  );
  if (x?.kind === 'references-ok') {
    return x.from === 'observers'
      ? `해당 노드의 관측 노드(${x.observers.join(', ')})에서 ${referenceNames(x.kinds)}는 정상 응답하여 네트워크는 정상이고 노드만 응답하지 않는 것으로 판단됨.`
      : `컨트롤러에서 ${referenceNames(x.kinds)}는 정상 응답하여(관측 노드는 시간 내 응답 없음) 네트워크 코어는 정상으로 판단됨.`;
  }
  if (x?.kind === 'references-failed') {
    return x.from === 'observers' && x.observers.length * 2 > x.of
      ? `기준점을 점검한 관측 노드 ${x.of}대 중 ${x.observers.length}대에서도 기준점이 응답하지 않아, 노드 장애의 근거가 아니라 노드 주변 네트워크 장애로 판단됨.`
      : `기준점 일부도 응답하지 않아(${x.failed}/${x.total}) 관측 지점 측 경로 문제일 가능성 있음.`;
  }
  return null;
}

function verdictSentence(f: ReportFacts): string {
  const v = f.verdict;
  return `**판정: ${v.rootCause} — ${MEANING[v.rootCause]}, 신뢰도 ${v.confidence.toFixed(2)}.**`;
}

function notReadyAt(f: ReportFacts): string | null {
  return f.incident.timeline.find((e) => e.kind === 'k8s-not-ready')?.at ?? null;
}

function consequence(f: ReportFacts): string {
  const head =
    notReadyAt(f) === null
      ? 'kubelet heartbeat가 중단'
      : 'kubelet heartbeat가 중단되어 노드가 `NodeNotReady` 상태로 전환';
  if (f.displaced === null || f.displaced === 0) return `${head}됨.`;
  const moved = `${head}되었고, 파드 ${f.displaced}개가 축출되어 다른 노드로 재스케줄링`;
  if (f.survivors === null) return `${moved}됨.`;
  return `${moved}되면서 생존 노드 ${f.survivors.count}대의 CPU limits가 할당 가능량 대비 ${pct(f.survivors.cpuLimits.min)}~${pct(f.survivors.cpuLimits.max)}까지 상승함.`;
}

function timelineText(f: ReportFacts, item: TimelineItem): string {
  switch (item.kind) {
    case 'entry': {
      const e = item.entry;
      switch (e.kind) {
        case 'last-heartbeat':
          return '마지막 kubelet heartbeat 확인 (Lease 갱신)';
        case 'suspect':
          return `NodeWarden: 노드 이상 징후 감지 — ${plain(reasonOf(e.message))}`;
        case 'down':
          return `NodeWarden: 노드 다운 판정 — ${plain(reasonOf(e.message))}`;
        case 'incident-opened':
          return '노드 단절 감지 (NodeWarden 인시던트 생성)';
        case 'k8s-not-ready': {
          const r = readyChange(e.message);
          const reason = r?.reason?.split(':')[0] ?? null;
          return r === null
            ? `Kubernetes: ${plain(e.message)}`
            : `Kubernetes가 노드를 NotReady로 전환 (${code(`Ready=${r.status}`)}${reason === null ? '' : `, ${plain(reason)}`})`;
        }
        case 'k8s-taint': {
          const taint = taintOf(e.message);
          return taint === null
            ? plain(e.message)
            : `Kubernetes가 노드에 ${code(taint)} taint 추가`;
        }
        case 'pod-evicted':
          return plain(e.message);
        case 'ready-again':
          return '노드 Ready 복귀 (Kubernetes)';
        case 'recovering':
          return 'NodeWarden: 노드 응답 재개';
        case 'resolved':
          return '시스템 복구 완료 (인시던트 종료)';
        case 'flap':
          return `복구 직후 재발(flap): ${plain(e.message)}`;
        case 'note':
          return `메모: ${plain(e.message)}`;
        case 'diagnosis':
          return `NodeWarden 진단: ${plain(e.message)}`;
        case 'cloud':
          return `클라우드: ${plain(e.message)}`;
      }
      break;
    }
    case 'evicted':
      return `노드 축출 처리 (파드 ${item.count}개, 생존 노드로 재스케줄링)`;
    case 'gpu-rise':
      return `GPU 메모리 사용량 ${pct(item.rise.fromPct)} → ${pct(item.rise.toPct)} 급상승 (${gpuLabel(item.rise)}) — 상관관계, 인과관계 미확정`;
    case 'verdict':
      return `NodeWarden 원인 판정: ${code(f.verdict.rootCause)} (신뢰도 ${f.verdict.confidence.toFixed(2)})`;
    case 'remediation':
      return `복구 조치 ${code(item.record.action)} (${code(item.record.target)}, 수행: ${item.record.actor}): ${RESULT[item.record.result]}`;
  }
  return '';
}

function sourceStep(f: ReportFacts, e: ReportFacts['evidence'][number]): string {
  if (e.status !== 'ok' || e.data === null) {
    return `확보 불가(${STATUS[e.status === 'ok' ? 'missing' : e.status]}): ${plain(e.summary)}`;
  }
  switch (e.source) {
    case 'kubernetes': {
      const d = e.data;
      const ready = d.conditions.find((c) => c.type === 'Ready');
      return `Node·Lease·이벤트·파드 조회: ${code(`Ready=${ready?.status ?? '알 수 없음'}`)}, Lease ${
        d.leaseAgeSeconds === null ? '없음' : `${dur(d.leaseAgeSeconds)} 미갱신`
      }, 노드 내 파드 ${d.podsOnNode.length}개, 노드 이벤트 ${d.events.length}건`;
    }
    case 'network': {
      const d = e.data;
      const answered = f.deadEverywhere ? '전 계층 응답 없음' : layerTallyText(f);
      const refs = d.references.filter((r) => r.result !== null);
      const refOk = refs.filter((r) => r.result?.verdict.healthy === true).length;
      return `${d.target}에 대해 관측 노드 ${d.observers.length}대${d.controller === null ? '' : '와 컨트롤러'}에서 L2/L3/L4/L7 점검: ${answered}${
        refs.length === 0 ? '' : `, 기준점 응답 ${refOk}/${refs.length}`
      }`;
    }
    case 'cloud': {
      const d = e.data;
      if (!d.found) return `OpenStack 인스턴스 ${code(d.instanceId)} 조회: 존재하지 않음`;
      const stops =
        f.stopAction === undefined
          ? 'stop/shutoff 없음'
          : `마지막 중지 계열 작업 ${code(f.stopAction.action)}`;
      return `OpenStack 인스턴스 ${code(d.instanceId)} 조회: ${cloudStateText(d)}, 하이퍼바이저 ${d.hostStatus ?? '알 수 없음'}, 작업 이력 ${d.actions.length}건(${stops}), 포트 ${d.ports.length}개, 콘솔 로그 ${
        d.consoleLogTail === null ? '확보되지 않음' : `확보(${d.consoleLogTail.length}줄)`
      }`;
    }
    case 'gpu': {
      const d = e.data;
      const xids = d.xids.reduce((n, x) => n + x.count, 0);
      return `${d.origin === 'dcgm' ? 'DCGM(Prometheus)' : '에이전트 샘플'}에서 GPU 메모리 조회: 시계열 ${d.series.length}개, ${xids === 0 ? 'Xid 없음' : `Xid ${xids}회`}${d.fallback === undefined ? '' : ` (Prometheus 대신 사용: ${d.fallback})`}`;
    }
    case 'kernel':
      return `${e.data.origin === 'console' ? '콘솔 로그' : '에이전트 마지막 로그'}에서 커널 로그 시그니처 매칭: ${
        e.data.signatures.length === 0 ? '발견되지 않음' : `${e.data.signatures.length}건`
      }`;
    case 'cni': {
      const restarts = e.data.components.reduce((n, c) => n + c.restartsInWindow, 0);
      return `${e.data.plugin} 컴포넌트 점검(파드 ${e.data.components.length}개): ${restarts === 0 ? '장애 전후 재시작 없음' : `재시작 ${restarts}회`}`;
    }
    case 'impact':
      return `파드 ${e.data.podsDisplaced}개 이동, 생존 노드 ${e.data.survivors.length}대의 requests/limits 집계`;
  }
}

function cniName(plugin: string): string {
  return plugin.toLowerCase() === 'kube-ovn' ? 'Kube-OVN' : plugin;
}

function tunnelName(tunnel: string): string {
  return tunnel.charAt(0).toUpperCase() + tunnel.slice(1);
}

export const KO: Words = {
  lang: 'ko',

  title(f) {
    return `${f.clock.date(f.incident.openedAt).replaceAll('-', '.')} **${TITLE[f.verdict.rootCause]}**`;
  },

  issueDescription(f) {
    const first = [networkSentence(f), cloudSentence(f), referenceSentence(f), verdictSentence(f)]
      .filter((s) => s !== null)
      .join(' ');
    const corr = f.verdict.correlations.map((c) => `${correlation(f, c)}.`);
    return paragraphs([first, corr.join(' '), consequence(f)]);
  },

  impactAssessment(f) {
    const lines: string[] = [];
    lines.push(
      f.displaced === null
        ? '노드 워크로드 영향: 확인 불가 (영향 범위 증거 없음)'
        : `해당 노드에서 실행 중이던 워크로드 전부 중단 (파드 ${f.displaced}개 축출)`,
    );
    if (f.survivors !== null) {
      lines.push(
        `다른 노드들의 리소스 사용률 급증 (CPU limits ${pct(f.survivors.cpuLimits.min)}~${pct(f.survivors.cpuLimits.max)}, Memory limits ${pct(f.survivors.memoryLimits.min)}~${pct(f.survivors.memoryLimits.max)}, CPU requests 최대 ${pct(f.survivors.cpuRequests.max)})`,
      );
    }
    if (f.gpuCapacity.length > 0) {
      lines.push(
        `GPU 리소스 손실(${f.gpuCapacity.map((g) => `${code(g.resource)} ${g.count}개`).join(', ')})로 인한 ML/AI 워크로드 처리 능력 저하`,
      );
    }
    if (f.incident.kind === 'partition') lines.push(`노드 ${f.incident.nodes.length}대 동시 영향`);
    return bullets(lines);
  },

  environmentDetails(f) {
    const info = f.k8s?.nodeInfo ?? null;
    const lines = [
      info === null
        ? 'Kubernetes 버전 확인 불가 (노드 정보 없음)'
        : `Kubernetes ${info.kubeletVersion}`,
      f.cni === null
        ? 'CNI: 확인 불가 (CNI 증거 없음)'
        : `CNI: ${cniName(f.cni.plugin)}${f.cni.tunnel === null ? '' : ` (${tunnelName(f.cni.tunnel)})`}`,
    ];
    const role = f.k8s?.labels['node-role'];
    const product = f.k8s?.labels['nvidia.com/gpu.product'];
    const isMig = f.gpuCapacity.some((g) => g.resource.startsWith('nvidia.com/mig-'));
    const kind = isMig ? 'MIG 지원 GPU 노드' : f.gpuCapacity.length > 0 ? 'GPU 노드' : '일반 노드';
    const detail = [
      f.cloud === null ? null : f.cloud.provider === 'openstack' ? 'OpenStack' : f.cloud.provider,
      role === undefined ? null : `node-role: ${role}`,
      product ?? null,
      f.cloud?.flavor == null ? null : `flavor ${f.cloud.flavor}`,
    ].filter((x) => x !== null);
    lines.push(`노드 타입: ${kind}${detail.length === 0 ? '' : ` (${detail.join(', ')})`}`);
    lines.push(
      info === null
        ? 'OS: 확인 불가'
        : `OS: ${info.osImage} (커널 ${info.kernelVersion}, ${info.containerRuntimeVersion})`,
    );
    return bullets(lines);
  },

  resourceInformation(f) {
    const failed = f.impact?.failedNode ?? null;
    const role = f.k8s?.labels['node-role'];
    const head = [
      `${code(f.node)}${role === undefined ? '' : ` (node-role: ${role})`}${f.ip === null ? '' : `, ${f.ip}`}`,
    ];
    if (f.cloud !== null) head.push(`OpenStack 인스턴스 ${code(f.cloud.instanceId)}`);
    if (failed !== null) {
      head.push(
        `CPU requests: ${pct(failed.usage.cpu.requestsPct)}, limits: ${pct(failed.usage.cpu.limitsPct)}`,
      );
      head.push(
        `Memory requests: ${pct(failed.usage.memory.requestsPct)}, limits: ${pct(failed.usage.memory.limitsPct)}`,
      );
      if (failed.diskUsedPct !== null) head.push(`디스크 사용량: ${pct(failed.diskUsedPct)}`);
    } else {
      head.push('requests/limits 확인 불가 (영향 범위 증거 없음)');
    }
    const parts = [`- 장애 노드:\n${bullets(head, '    ')}`];
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
        `- 영향받은 노드들 (리소스 급증, 할당 가능량 대비 requests / limits${anyBefore ? ', 이전 → 이후' : ''}):`,
        table(['노드', 'CPU', 'Memory'], rows),
      );
    }
    return parts.join('\n\n');
  },

  symptoms(f) {
    const lines: string[] = [];
    const lease = f.k8s?.leaseAgeSeconds;
    const hb = f.incident.lastHeartbeatAt;
    lines.push(
      `${notReadyAt(f) === null ? 'kubelet heartbeat 중단' : `${code('NodeNotReady')} 상태로 전환, kubelet heartbeat 중단`}${
        hb === null
          ? ''
          : ` (마지막 ${f.clock.clock(hb)}${lease == null ? '' : `, 관측 시점 Lease ${dur(lease)} 미갱신`})`
      }`,
    );
    if (f.answeredProbes > 0) {
      if (f.deadEverywhere) {
        const layers = LAYERS.filter((l) => f.tally[l].failed > 0).join('/');
        lines.push(
          `모든 네트워크 계층에서 통신 불가 (${layers}, 관측 지점 ${f.answeredProbes}곳 중 ${f.answeredProbes}곳)`,
        );
      } else lines.push(`프로브 결과: ${layerTallyText(f)}`);
    }
    for (const c of f.gpuRises) {
      lines.push(
        `GPU 메모리 사용량 급상승 (${pct(c.fromPct)} → ${pct(c.toPct)}) 직후 장애 발생 (상관관계)`,
      );
    }
    if (f.cloud !== null && f.cloud.found) {
      lines.push(
        f.stopAction === undefined
          ? `OpenStack상 인스턴스 ${cloudStateText(f.cloud)}, shutoff/stop 이력 없음 (정상 종료 아님)`
          : `OpenStack상 인스턴스 ${cloudStateText(f.cloud)}, ${f.clock.clock(f.stopAction.startTime)}에 ${code(f.stopAction.action)} 기록`,
      );
    }
    for (const s of f.signatures) lines.push(`커널 로그: ${code(s.signature.title)}`);
    for (const c of f.cni?.components ?? []) {
      if (c.restartsInWindow > 0)
        lines.push(`${code(c.pod)}(${c.component}) ${c.restartsInWindow}회 재시작`);
    }
    return bullets(lines);
  },

  timeline(f) {
    const lines = f.timeline.map(
      (item) => `**${f.clock.dateTime(item.at)}**: ${timelineText(f, item)}`,
    );
    lines.push(
      `**MTTD**: ${f.mttd === null ? '확인 불가 (마지막 heartbeat 없음)' : `${dur(f.mttd)} (마지막 heartbeat → 감지)`}`,
      `**MTTR**: ${f.mttr === null ? (f.incident.resolvedAt === null ? '아직 복구되지 않음' : '확인 불가 (마지막 heartbeat 없음)') : `${dur(f.mttr)} (마지막 heartbeat → 복구)`}`,
    );
    return bullets(lines);
  },

  monitoringData(f) {
    const lines: string[] = [];
    if (f.gpu === null) lines.push('GPU 메모리: GPU 증거 없음');
    else {
      for (const s of f.gpu.series) {
        const pts = [...s.points].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
        const first = pts[0];
        const last = pts[pts.length - 1];
        if (first === undefined || last === undefined) continue;
        const max = Math.max(...pts.map((p) => p.usedPct));
        lines.push(
          `GPU 메모리, ${gpuLabel(s)}: ${f.clock.clock(first.at)} ${pct(first.usedPct)} → ${f.clock.clock(last.at)} ${pct(last.usedPct)} (최대 ${pct(max)}, 샘플 ${pts.length}개, ${f.gpu.origin === 'dcgm' ? 'DCGM' : '에이전트'})`,
        );
      }
      const xids = f.gpu.xids.filter((x) => x.count > 0);
      lines.push(
        xids.length === 0
          ? 'GPU Xid 오류: 없음'
          : `GPU Xid 오류: ${xids.map((x) => `GPU ${x.gpu} Xid ${x.xid} ${x.count}회`).join(', ')}`,
      );
    }
    const failed = f.impact?.failedNode ?? null;
    if (failed !== null) {
      const u = failed.usage;
      const normal = u.cpu.limitsPct <= 100 && u.memory.limitsPct <= 100;
      lines.push(
        `장애 노드 리소스 사용률(requests / limits): CPU ${pct(u.cpu.requestsPct)}/${pct(u.cpu.limitsPct)}, Memory ${pct(u.memory.requestsPct)}/${pct(u.memory.limitsPct)}${normal ? ' (정상 범위)' : ''}`,
      );
      if (failed.diskUsedPct !== null)
        lines.push(`장애 노드 디스크 사용량: ${pct(failed.diskUsedPct)}`);
    }
    if (f.survivors !== null) {
      lines.push(
        `다른 노드들 리소스 급증: CPU limits ${pct(f.survivors.cpuLimits.min)}~${pct(f.survivors.cpuLimits.max)} 오버커밋 발생`,
      );
    }
    if (f.cni !== null) {
      const restarting = f.cni.components.filter((c) => c.restartsInWindow > 0);
      lines.push(
        restarting.length === 0
          ? `${cniName(f.cni.plugin)} 컴포넌트: 장애 전후 재시작 없음`
          : `${cniName(f.cni.plugin)} 재시작: ${restarting.map((c) => `${code(c.pod)} ${c.restartsInWindow}회`).join(', ')}`,
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
            `**${LAYER_NAME.L2}**: ${code(`ip neigh show ${q.result.target}`)} → 상태: ${code(r.neighbourState)}`,
          );
        }
        lines.push(`**${LAYER_NAME[layer]}**: ${code(r.command)} → ${code(r.detail)}`);
      }
      parts.push(
        `**네트워크 계층별 테스트 결과** (${code(q.observer)}${q.observerIP === null ? '' : `, ${q.observerIP}`}에서 실행):\n${bullets(lines)}`,
      );
      const rows = f.vantage.map((v) => [
        `${v.isController ? '컨트롤러' : code(v.observer)}${v.observerIP === null ? '' : ` (${v.observerIP})`}`,
        ...LAYERS.map((l) => {
          if (v.result === null) return l === 'L2' ? `결과 없음: ${v.error ?? '알 수 없음'}` : '—';
          const r = layerOf(v.result, l);
          if (r === undefined) return '—';
          return r.layer === 'L2' && r.neighbourState !== undefined && r.status === 'failed'
            ? `실패 (${r.neighbourState})`
            : LAYER_STATUS[r.status];
        }),
      ]);
      parts.push(`**관측 지점별 결과:**\n\n${table(['관측 지점', ...LAYERS], rows)}`);
    } else {
      parts.push('**네트워크 계층별 테스트 결과:** 프로브 결과 없음.');
    }
    if (f.references.length > 0) {
      const lines = f.references.map((r) => {
        const name = r.kind === 'ovn-gateway' ? 'OVN 게이트웨이' : '노드 게이트웨이';
        if (r.result === null) {
          return `${name} ${code(r.target)} (${code(r.observer)}에서): 결과 없음 (${plain(r.error ?? '알 수 없음')})`;
        }
        return `${name} ${code(r.target)} 점검 (${code(r.observer)}에서): ${referenceLayers(r.result)}${r.result.verdict.healthy ? 'OK' : '실패'}`;
      });
      const allOk = f.references.every((r) => r.result?.verdict.healthy === true);
      const src = f.referenceSource;
      const where =
        src === null
          ? ''
          : src.from === 'observers'
            ? ' (해당 노드의 관측 노드에서 점검)'
            : ` (컨트롤러에서 점검: ${plain(src.fallback ?? '관측 노드 응답 없음')})`;
      parts.push(
        `**인프라 기준점 상태${where}:**\n${bullets(lines)}${allOk ? '\n\n기준점이 모두 응답함 (네트워크 인프라 자체는 정상).' : ''}`,
      );
    }
    const events = f.k8s?.events ?? [];
    if (events.length > 0) {
      parts.push(
        `**Kubernetes 이벤트:**\n${bullets(
          events.map(
            (e) =>
              `${e.at === null ? '' : `${f.clock.clock(e.at)} `}${e.type} ${code(e.reason)}: ${plain(e.message)}${e.count > 1 ? ` (${e.count}회)` : ''}`,
          ),
        )}`,
      );
    }
    const c = f.cloud;
    if (c !== null) {
      const lines = [
        `${code(`openstack server show ${c.instanceId}`)} → ${
          c.found
            ? `status ${code(c.status ?? '알 수 없음')}, power_state ${code(c.powerState === null ? '알 수 없음' : powerStateLabel(c.powerState))}, task_state ${code(c.taskState ?? 'None')}, vm_state ${code(c.vmState ?? '알 수 없음')}, host_status ${code(c.hostStatus ?? '알 수 없음')}`
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
              ? '작업 이력 없음'
              : actions
                  .map(
                    (a) =>
                      `${code(a.action)} ${f.clock.dateTime(a.startTime)} (${a.userId === null ? 'Nova, user_id null' : `사용자 ${code(a.userId)}`})`,
                  )
                  .join('; ')
          }${f.stopAction === undefined ? '; stop/shutoff 없음' : ''}`,
        );
        for (const p of c.ports) {
          lines.push(
            `${code(`openstack port show ${p.id}`)} → status ${code(p.status)}, admin_state_up ${code(String(p.adminStateUp))}`,
          );
        }
        lines.push(
          c.consoleLogTail === null
            ? `${code(`openstack console log show ${c.instanceId}`)} → 확보되지 않음`
            : `${code(`openstack console log show ${c.instanceId}`)} → 마지막 ${c.consoleLogTail.length}줄:`,
        );
      }
      parts.push(
        `**OpenStack (Nova):**\n${bullets(lines)}${c.consoleLogTail !== null && c.consoleLogTail.length > 0 ? `\n\n${block(c.consoleLogTail)}` : ''}`,
      );
    }
    if (f.signatures.length > 0) {
      parts.push(
        `**커널 로그 시그니처:**\n${bullets(
          f.signatures.map(
            (s) =>
              `${code(s.signature.title)} (${s.origin === 'console' ? '콘솔 로그' : '에이전트'}${s.signature.at === null ? '' : `, ${f.clock.clock(s.signature.at)}`})`,
          ),
        )}\n\n${block(f.signatures.map((s) => s.signature.line))}`,
      );
    } else {
      const kernel = f.missing.find((m) => m.source === 'kernel');
      parts.push(
        `**커널 로그 시그니처:** ${kernel === undefined ? '발견되지 않음' : `확인 불가 (${STATUS[kernel.status]}: ${plain(kernel.summary)})`}.`,
      );
    }
    return parts.join('\n\n');
  },

  troubleshootingSteps(f) {
    const opened = Date.parse(f.incident.openedAt);
    const since = (iso: string) => {
      const ms = Date.parse(iso) - opened;
      return ms >= 0 ? `감지 후 +${formatSpan(ms, 'ko')}` : `감지 전 ${formatSpan(ms, 'ko')}`;
    };
    const steps: { at: string; text: string }[] = f.evidence.map((e) => ({
      at: e.observedAt,
      text: `**${f.clock.clockSeconds(e.observedAt)}** (${since(e.observedAt)}${e.durationMs > 0 ? `, 소요 ${formatMs(e.durationMs, 'ko')}` : ''}) ${SOURCE[e.source]} — ${sourceStep(f, e)}`,
    }));
    steps.push({
      at: f.verdict.decidedAt,
      text: `**${f.clock.clockSeconds(f.verdict.decidedAt)}** (${since(f.verdict.decidedAt)}) 원인 판정: ${code(f.verdict.rootCause)}, 신뢰도 ${f.verdict.confidence.toFixed(2)}`,
    });
    steps.push({
      at: f.generatedAt,
      text: `**${f.clock.clockSeconds(f.generatedAt)}** (${since(f.generatedAt)}) 본 보고서 작성`,
    });
    const lines = byTime(steps);
    const total = Date.parse(f.verdict.decidedAt) - opened;
    return paragraphs([
      'NodeWarden이 자동으로 수행한 작업:',
      numbered(lines),
      `감지부터 원인 판정까지 ${formatSpan(Math.max(0, total), 'ko')} 소요.`,
    ]);
  },

  rootCauseAnalysis(f) {
    const v = f.verdict;
    const parts = [
      `**판정:** ${code(v.rootCause)} — ${MEANING[v.rootCause]}. 신뢰도 ${v.confidence.toFixed(2)} (규칙 ${code(v.rule)}).`,
    ];
    if (v.rootCause === 'UNKNOWN' || v.confidence < 0.5) {
      parts.push('**현재 상태:** 원인 미확정 — 아래는 확인된 사실만 정리함.');
    }
    parts.push(
      `**근거로 삼은 증거:**\n${bullets(v.findings.map((x) => `${x.source === 'incident' ? '인시던트' : SOURCE[x.source]}: ${fact(f, x)}`))}`,
    );
    if (v.correlations.length > 0) {
      parts.push(
        `**상관관계 (원인 아님):**\n${bullets(v.correlations.map((c) => correlation(f, c)))}`,
      );
    }
    parts.push(
      v.missing.length === 0
        ? '**누락된 증거:** 없음.'
        : `**누락된 증거:**\n${bullets(v.missing.map((m) => `${SOURCE[m.source]}: ${STATUS[m.status]} — ${plain(m.summary)}`))}`,
    );
    if (v.candidates.length > 0)
      parts.push(`**배제하지 못한 원인:** ${v.candidates.map(code).join(', ')}.`);
    return parts.join('\n\n');
  },

  proposedResolution(f) {
    const long = longTermItems(f).map((i) => LONG_TERM[i]);
    return paragraphs([
      `**즉시 조치:**\n${bullets(IMMEDIATE[f.verdict.rootCause])}`,
      long.length === 0 ? null : `**장기 대책:**\n${bullets(long)}`,
    ]);
  },

  recoveryActions(f) {
    const lines = f.remediation.map(
      (r) =>
        `**${f.clock.dateTime(r.at)}**: ${code(r.action)} (${code(r.target)}, 수행: ${r.actor}) — ${RESULT[r.result]}${r.detail === '' ? '' : `: ${plain(r.detail)}`}`,
    );
    if (f.remediation.length === 0) lines.push('이번 인시던트에 대한 자동 복구 조치 기록 없음');
    const resolved = f.incident.resolvedAt;
    lines.push(
      resolved === null
        ? `아직 복구되지 않음 (${f.clock.dateTime(f.incident.openedAt)}부터 진행 중)`
        : `**${f.clock.dateTime(resolved)}**: 시스템 복구 완료, 인시던트 종료${f.mttr === null ? '' : ` (마지막 heartbeat 기준 MTTR ${dur(f.mttr)})`}`,
    );
    return `**복구 조치:**\n${bullets(lines)}`;
  },

  additionalContext(f) {
    const lines: string[] = [];
    lines.push(
      `MTTD: ${f.mttd === null ? '확인 불가' : dur(f.mttd)}, MTTR: ${
        f.mttr === null ? (f.incident.resolvedAt === null ? '미복구' : '확인 불가') : dur(f.mttr)
      } (모두 마지막 heartbeat 기준)`,
    );
    const evicted = f.timeline.find((i) => i.kind === 'evicted');
    const noticed = f.incident.timeline.find((e) => e.kind === 'note');
    if (evicted !== undefined && noticed !== undefined && noticed.at > evicted.at) {
      lines.push(
        `노드 축출부터 담당자의 첫 기록까지 ${dur((Date.parse(noticed.at) - Date.parse(evicted.at)) / 1000)} 경과`,
      );
    }
    for (const c of f.gpuRises) {
      lines.push(
        `GPU 메모리 급상승(${pct(c.fromPct)} → ${pct(c.toPct)})과 노드 다운의 시간적 연관성은 확인되었으나 인과관계는 미확정`,
      );
    }
    if (f.deadEverywhere && f.tally.L2.failed > 0) {
      lines.push(
        '같은 링크의 모든 관측 노드에서 L2 레벨 ARP가 실패한 것은 노드 자체의 네트워크 스택이 응답하지 않았음을 의미 (특정 경로가 아닌 노드 자체의 문제)',
      );
    }
    if (f.survivors !== null && f.survivors.cpuLimits.max > 100) {
      lines.push(
        `노드 장애로 인한 워크로드 재분산이 다른 노드들의 심각한 오버커밋을 야기함 (CPU limits 최대 ${pct(f.survivors.cpuLimits.max)})`,
      );
    }
    if (f.gpuCapacity.length > 0) {
      lines.push('GPU 리소스의 특성상 노드 손실 시 대체 리소스 확보가 어려워 서비스 영향도가 큼');
    }
    if (f.missing.length > 0) {
      lines.push(
        `확보하지 못한 증거: ${f.missing.map((m) => SOURCE[m.source]).join(', ')} (추정하지 않고 누락으로 기록)`,
      );
    }
    lines.push(
      `본 보고서는 NodeWarden이 자동 수집한 증거로 ${f.clock.dateTime(f.generatedAt)}에 작성함 (시각은 ${f.clock.zone}, ${f.clock.label(f.generatedAt)} 기준)`,
    );
    return bullets(lines);
  },
};
