import { readFile } from 'node:fs/promises';
import { NodeWardenError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { Notifier } from './notifier.ts';

/** The controller's notification flags. */
export interface NotifyOptions {
  /** Files with one Slack-compatible webhook URL per line (`#` comments, blank lines ignored). */
  readonly slackUrlFiles: readonly string[];
  readonly alertmanagerUrls: readonly string[];
  readonly publicUrl: string | null;
}

/**
 * Reads the webhook files and builds the notifier; null when no target is
 * configured. Errors name the file and the line, never a URL (it is the
 * credential).
 */
export async function openNotifier(
  options: NotifyOptions | undefined,
  log: Logger,
): Promise<Notifier | null> {
  if (!options) return null;
  const slackUrls: string[] = [];
  for (const file of options.slackUrlFiles) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `--notify-slack-url-file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
        { hint: 'write the webhook URL into that file (mode 0600), one per line', cause: error },
      );
    }
    const urls = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    if (urls.length === 0)
      throw new NodeWardenError('BAD_INPUT', `--notify-slack-url-file ${file} holds no URL`, {
        hint: 'one https://… webhook URL per line',
      });
    for (const [i, url] of urls.entries()) {
      if (!/^https?:\/\/[^/]/.test(url))
        throw new NodeWardenError(
          'BAD_INPUT',
          `--notify-slack-url-file ${file}: URL #${i + 1} is not an http(s) URL`,
          { hint: 'one https://… webhook URL per line' },
        );
    }
    slackUrls.push(...urls);
  }
  if (slackUrls.length === 0 && options.alertmanagerUrls.length === 0) return null;
  const notifier = new Notifier({
    slackUrls,
    alertmanagerUrls: options.alertmanagerUrls,
    publicUrl: options.publicUrl,
    log,
  });
  log.log('info', 'notifications on', {
    targets: notifier.targets(),
    publicUrl: options.publicUrl,
  });
  return notifier;
}
