import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** One job the local user ran, as the user remembers it. */
export interface LedgerEntry {
  jobId: string
  service: string
  user: string
  bundleCid: string | null
  /** Hex SHA-256 of the job's manifest, once reported. */
  manifestDigest: string | null
  at: string
}

/**
 * The user's own record of its jobs in the order they ran, kept in the data dir. Checking
 * settlement does not need it: each claim's Claim event names the public leaves document.
 */
export class JobLedger {
  constructor(readonly path: string) {}

  async #read(): Promise<LedgerEntry[]> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as LedgerEntry[]
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
  }

  /** Adds or updates a job (by id), keeping its first position. */
  async record(entry: LedgerEntry): Promise<void> {
    const all = await this.#read()
    const i = all.findIndex((e) => e.jobId === entry.jobId)
    if (i >= 0) all[i] = entry
    else all.push(entry)
    await mkdir(dirname(this.path), { recursive: true })
    await writeFile(`${this.path}.tmp`, `${JSON.stringify(all, null, 2)}\n`)
    await rename(`${this.path}.tmp`, this.path)
  }
}
