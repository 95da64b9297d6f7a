import { DurableObject } from 'cloudflare:workers'

/**
 * A pointer, one per name: `job:<jobId>` → service address, `pipeline:<secret digest>:<project>:<pipeline>` →
 * `{ service, jobId }`. Job ids and GitLab job events do not say which service they belong to;
 * these pointers route them to the right ServiceObject without a global (bottleneck) index.
 */
export class JobIndex extends DurableObject {
  /** Sets the pointer (first writer wins: a job's service never changes). */
  async set(value: string): Promise<void> {
    const current = await this.ctx.storage.get<string>('value')
    if (current === undefined) await this.ctx.storage.put('value', value)
  }

  /** The pointer's value, or null. */
  async get(): Promise<string | null> {
    return (await this.ctx.storage.get<string>('value')) ?? null
  }
}
