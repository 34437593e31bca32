import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { runCommand } from '../../src/host/command.ts';
import { startOpsServer } from '../../src/server/ops-server.ts';
import { repoRoot } from '../support/helm.ts';

/**
 * No container engine runs here, so the Dockerfile is checked the way a
 * linter would, against the repository: every file it copies exists and is
 * not excluded by .dockerignore, the build stage gets every input of
 * `npm run build`, the entrypoint is the package's bin, its default command
 * and the chart's commands are commands the CLI has, and the HEALTHCHECK
 * script answers 0 for a serving /healthz and 1 otherwise.
 */

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly stage: number;
}

function parseDockerfile(text: string): Instruction[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  let stage = -1;
  return lines.map((line) => {
    const [op = '', ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === 'FROM') stage += 1;
    return { op: op.toUpperCase(), args: rest.join(' '), stage };
  });
}

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const steps = parseDockerfile(dockerfile);
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
  engines: { node: string };
};
const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

const copies = steps
  .filter((s) => s.op === 'COPY')
  .map((s) => {
    const words = s.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length) ?? null;
    const paths = words.filter((w) => !w.startsWith('--'));
    return { stage: s.stage, from, sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
  });
const execForm = (op: string): string[] =>
  JSON.parse(steps.find((s) => s.op === op)?.args.replace(/^CMD\s+/, '') ?? '[]') as string[];

describe('Dockerfile', () => {
  it('is multi-stage on a Node LTS slim base the package supports', () => {
    const froms = steps.filter((s) => s.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const version = /^ARG NODE_VERSION=(\d+)$/m.exec(dockerfile)?.[1];
    expect(Number(version) % 2, 'an LTS line is even').toBe(0);
    const minimum = Number(/>=(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(Number(version)).toBeGreaterThanOrEqual(minimum);
    for (const f of froms) expect(f.args).toMatch(/^node:\$\{NODE_VERSION\}-[a-z]+-slim\b/);
  });

  it('every file it copies from the repository exists and is not dockerignored', () => {
    const local = copies.filter((c) => c.from === null).flatMap((c) => c.sources);
    expect(local.length).toBeGreaterThan(0);
    for (const source of local) {
      expect(existsSync(join(repoRoot, source)), `COPY ${source}: no such file`).toBe(true);
      expect(ignored, `COPY ${source} is excluded by .dockerignore`).not.toContain(source);
    }
  });

  it('the build stage gets every input of npm run build', () => {
    const build = pkg.scripts['build'] ?? '';
    const copied = new Set(copies.filter((c) => c.stage === 0).flatMap((c) => c.sources));
    // Every existing file or folder the build script names, and what tsconfig.build includes.
    const named = build.split(/\s+/).filter((w) => /^[\w.-]+(\/[\w.-]+)*$/.test(w));
    const inputs = named.filter((w) => existsSync(join(repoRoot, w)));
    const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as {
      extends?: string;
      include?: string[];
      compilerOptions?: { outDir?: string };
    };
    inputs.push(...(tsconfig.include ?? []), (tsconfig.extends ?? '').replace(/^\.\//, ''));
    // Copied itself, or inside a copied folder.
    const covered = (input: string): boolean =>
      [...copied].some((c) => input === c || input.startsWith(`${c.replace(/\/$/, '')}/`));
    for (const input of inputs.filter(Boolean))
      expect(covered(input), `npm run build needs ${input}: COPY it into the build stage`).toBe(
        true,
      );
    // The runtime takes dist/ from where the build writes it.
    const outDir = tsconfig.compilerOptions?.outDir ?? '';
    const fromBuild = copies.filter((c) => c.from === 'build').flatMap((c) => c.sources);
    expect(fromBuild).toContain(`/src/${outDir}`);
    expect(fromBuild).toContain('/src/node_modules');
  });

  it('the entrypoint is the package bin, with the files it imports beside it', () => {
    const entrypoint = execForm('ENTRYPOINT');
    const workdir = steps.filter((s) => s.op === 'WORKDIR').at(-1)?.args ?? '';
    expect(entrypoint).toEqual(['node', `${workdir}/${pkg.bin['nodewarden'] ?? '?'}`]);
    const runtime = copies.filter((c) => c.stage === 1);
    const dests = runtime.map((c) => c.dest.replace(/^\.\//, '').replace(/\/$/, ''));
    // bin/nodewarden.js imports ../dist/cli/main.js; main reads ../../package.json.
    for (const needed of ['bin', 'dist', 'node_modules']) expect(dests).toContain(needed);
    expect(runtime.some((c) => c.sources.includes('package.json'))).toBe(true);
    expect(readFileSync(join(repoRoot, pkg.bin['nodewarden'] ?? ''), 'utf8')).toContain(
      '../dist/cli/main.js',
    );
  });

  it("its default command and the chart's commands are commands the CLI has", async () => {
    const cmd = execForm('CMD');
    expect(cmd).toEqual(['controller']);
    const silent = { out: () => undefined, err: () => undefined };
    for (const name of [...cmd, 'agent']) expect(await main([name, '--help'], silent)).toBe(0);
    expect(await main(['no-such-command'], silent)).not.toBe(0);
  });

  it("the runtime has the probes' tools, runs as a non-root user, and exposes both roles' ports", () => {
    const runtimeApt = steps.filter((s) => s.stage === 1 && s.op === 'RUN').map((s) => s.args);
    for (const p of ['iputils-ping', 'iputils-arping', 'iproute2'])
      expect(runtimeApt.join(' ')).toContain(p);
    const user = steps.filter((s) => s.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(
      steps
        .find((s) => s.op === 'EXPOSE')
        ?.args.split(/\s+/)
        .sort(),
    ).toEqual(['9464', '9465']);
  });

  it('the HEALTHCHECK script exits 0 while /healthz answers and 1 when nothing serves', async () => {
    const line = steps.find((s) => s.op === 'HEALTHCHECK')?.args ?? '';
    const cmd = JSON.parse(line.slice(line.indexOf('CMD') + 3).trim()) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    const script = cmd[2] ?? '';
    const ops = await startOpsServer({
      listen: '127.0.0.1:0',
      registry: new Registry(),
      healthy: () => ({ ok: true, reason: '' }),
      ready: () => ({ ok: true, reason: '' }),
    });
    const run = (port: number) =>
      runCommand(process.execPath, ['-e', script], {
        timeoutMs: 10_000,
        env: { NODEWARDEN_HEALTH_PORT: String(port) },
      });
    try {
      expect((await run(ops.port)).code).toBe(0);
    } finally {
      await ops.close();
    }
    expect((await run(ops.port)).code).toBe(1);
  });
});
