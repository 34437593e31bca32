import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Io } from './command.ts';
import { command as agentCommand } from './agent.ts';
import { COMMAND_MODULES, main } from './main.ts';

const src = fileURLToPath(new URL('../', import.meta.url));

/** Value imports of a module (`import type` only affects types and is erased). */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'";]*?from\s+'([^']+)'/gm))
    specs.push(m[1] ?? '');
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) specs.push(m[1] ?? '');
  return specs;
}

/** Every file and package the process loads when it imports `entry` (static imports, transitively). */
function closure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  walk(entry);
  return { files: [...files].map((f) => relative(src, f)).sort(), packages: [...packages].sort() };
}

function capture(): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => (out += t), err: (t) => (err += t) }, out: () => out, err: () => err };
}

describe('the CLI dispatcher', () => {
  it('names each command module by the name the module gives its command', async () => {
    for (const [name, load] of Object.entries(COMMAND_MODULES)) {
      expect((await load()).command.name).toBe(name);
    }
  });

  it('imports only the module of the command that runs', async () => {
    const loaded: string[] = [];
    const modules = Object.fromEntries(
      Object.entries(COMMAND_MODULES).map(([name, load]) => [
        name,
        () => {
          loaded.push(name);
          return load();
        },
      ]),
    );
    expect(await main(['agent', '--help'], capture().io, modules)).toBe(0);
    expect(await main(['agent', '--no-such-flag'], capture().io, modules)).toBe(2);
    expect(loaded).toEqual(['agent', 'agent']);
    // …and none statically: main.ts itself pulls in no command file.
    const { files } = closure(join(src, 'cli/main.ts'));
    expect(files.filter((f) => f.startsWith('cli/'))).toEqual(['cli/command.ts', 'cli/main.ts']);
  });

  it('lists every command in --help and prints the agent help unchanged', async () => {
    const list = capture();
    expect(await main(['--help'], list.io)).toBe(0);
    for (const name of Object.keys(COMMAND_MODULES)) expect(list.out()).toContain(`  ${name} `);
    const help = capture();
    expect(await main(['agent', '--help'], help.io)).toBe(0);
    expect(help.out()).toBe(agentCommand.help);
  });

  it('still refuses an unknown command, naming it', async () => {
    const c = capture();
    expect(await main(['agnet'], c.io)).toBe(2);
    expect(c.err()).toContain('unknown command "agnet"');
    expect(await main(['toString'], c.io)).toBe(2);
  });
});

describe('the agent entry point (nodewarden agent)', () => {
  // The agent runs on every node within ≤ 80 MB: it must not load what only
  // the controller, the stores, diagnosis, the HTTP API or the lab need.
  const agent = closure(join(src, 'cli/agent.ts'));

  it('loads only the agent, probes, GPU readers, the ops server and core', () => {
    const outside = agent.files.filter(
      (f) =>
        !/^(agent|probe|gpu|core|host)\//.test(f) &&
        !['cli/agent.ts', 'cli/command.ts', 'server/ops-server.ts'].includes(f),
    );
    expect(outside).toEqual([]);
    // The walk itself sees through the agent's imports.
    for (const f of [
      'agent/start.ts',
      'agent/agent.ts',
      'probe/linux-prober.ts',
      'host/http-request.ts',
    ])
      expect(agent.files).toContain(f);
    expect(agent.files).not.toContain('gpu/gpu-sim.ts');
  });

  it('loads no package but prom-client (no Kubernetes client, no database drivers)', () => {
    expect(agent.packages).toEqual(['prom-client']);
  });

  it('does not use fetch (undici compiles a WebAssembly parser: +30 MB peak RSS)', () => {
    const users = agent.files.filter((f) =>
      /\bfetch\(/.test(readFileSync(join(src, f), 'utf8').replace(/\/\/.*|\/\*[\s\S]*?\*\//g, '')),
    );
    expect(users).toEqual([]);
  });
});
