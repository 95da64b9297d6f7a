import type { ServiceDescriptor } from '../../protocol/index.ts'

/** What grouping needs of a market row: who offers it, what job it runs, when it was listed. */
export interface Versioned {
  operator: string
  descriptor: {
    provider: ServiceDescriptor['provider']
    visibility?: ServiceDescriptor['visibility']
    name?: string
    providerUrl?: string
    project?: string
    job?: string
  } | null
  /** The registry block height of its listing: a later listing is a newer version. */
  listedAt: number
}

/**
 * One job of one operator: its versions differ in commit (and so in contract), never in this key.
 * A row without a descriptor stands alone (its job is unknown).
 */
export function jobKey(s: Versioned, index: number): string {
  const d = s.descriptor
  if (!d) return `unknown:${index}`
  // A private service names no job: its versions are the operator's services of the same name.
  return d.visibility === 'private'
    ? JSON.stringify([s.operator, d.provider, 'private', d.name])
    : JSON.stringify([s.operator, d.provider, d.providerUrl, d.project, d.job])
}

/**
 * Puts the versions of one job together, newest first, keeping the order of `sorted` between
 * jobs (a job sits where its first row sorted). Each row says whether it is its job's newest.
 */
export function groupVersions<T extends Versioned>(
  sorted: readonly T[],
): { row: T; newest: boolean; versions: number }[] {
  const groups = new Map<string, T[]>()
  sorted.forEach((s, i) => {
    const key = jobKey(s, i)
    const group = groups.get(key)
    if (group) group.push(s)
    else groups.set(key, [s])
  })
  return [...groups.values()].flatMap((group) =>
    [...group]
      .sort((a, b) => b.listedAt - a.listedAt)
      .map((row, i) => ({ row, newest: i === 0, versions: group.length })),
  )
}
