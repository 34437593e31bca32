import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runChecked } from '../host/command.ts';

/**
 * The lab's certificate authority, made with openssl: one CA signs the API
 * server's serving certificate, the control-plane clients' certificates, and
 * each kubelet stand-in's serving and client certificates. Keys are ECDSA
 * P-256 (fast to make on 2 cores). Files are only made once: calling `issue`
 * again for an existing name returns the existing pair. Serials are random, so
 * certificates can be issued concurrently (a shared serial file would race).
 */
export interface CertRequest {
  /** File stem: `<dir>/<name>.crt` and `<name>.key`. */
  readonly name: string;
  readonly commonName: string;
  readonly organization?: string;
  readonly ips?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly usage: 'server' | 'client' | 'server+client';
}

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface LabPki {
  readonly dir: string;
  readonly ca: CertPair;
  issue(request: CertRequest): Promise<CertPair>;
}

const timeoutMs = 30_000;
const validDays = '365';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function ecKey(path: string): Promise<void> {
  await runChecked(
    'openssl',
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path],
    { timeoutMs },
  );
}

/** Opens (and on first use creates) the lab CA in `dir`. */
export async function openLabPki(dir: string): Promise<LabPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca: CertPair = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  if (!(await exists(ca.cert))) {
    await ecKey(ca.key);
    await runChecked(
      'openssl',
      [
        'req',
        '-x509',
        '-new',
        '-key',
        ca.key,
        '-sha256',
        '-days',
        validDays,
        '-subj',
        '/CN=nodewarden-lab-ca',
        '-out',
        ca.cert,
      ],
      { timeoutMs },
    );
  }
  return {
    dir,
    ca,
    async issue(request) {
      const pair: CertPair = {
        cert: join(dir, `${request.name}.crt`),
        key: join(dir, `${request.name}.key`),
      };
      if (await exists(pair.cert)) return pair;
      await ecKey(pair.key);
      const csr = join(dir, `${request.name}.csr`);
      const ext = join(dir, `${request.name}.ext`);
      const subject =
        `/CN=${request.commonName}` + (request.organization ? `/O=${request.organization}` : '');
      await runChecked(
        'openssl',
        ['req', '-new', '-key', pair.key, '-subj', subject, '-out', csr],
        { timeoutMs },
      );
      const san = [
        ...(request.ips ?? []).map((ip) => `IP:${ip}`),
        ...(request.dnsNames ?? []).map((d) => `DNS:${d}`),
      ];
      const eku = {
        server: 'serverAuth',
        client: 'clientAuth',
        'server+client': 'serverAuth,clientAuth',
      }[request.usage];
      await writeFile(
        ext,
        [
          'basicConstraints=CA:FALSE',
          'keyUsage=critical,digitalSignature,keyEncipherment',
          `extendedKeyUsage=${eku}`,
          ...(san.length ? [`subjectAltName=${san.join(',')}`] : []),
        ].join('\n') + '\n',
      );
      await runChecked(
        'openssl',
        [
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          ca.cert,
          '-CAkey',
          ca.key,
          '-set_serial',
          `0x${randomBytes(16).toString('hex')}`,
          '-days',
          validDays,
          '-sha256',
          '-extfile',
          ext,
          '-out',
          pair.cert,
        ],
        { timeoutMs },
      );
      return pair;
    },
  };
}
