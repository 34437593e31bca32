import { Gauge, type Registry } from 'prom-client';

/**
 * A gauge whose value is computed at scrape time from state the process
 * already holds (caches, in-memory incidents), so /metrics never calls out.
 */
export function collectedGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  collect: (g: Gauge) => void,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      collect(this);
    },
  });
}
