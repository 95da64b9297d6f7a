import { availableParallelism } from 'node:os'

/**
 * Files a project runs at once. Vitest does not pass the root config's `maxWorkers` down to its
 * projects: each resolves its own, by default one fewer than the cores, which is ONE on a 2-core
 * machine, and a project of one worker joins a group Vitest runs file by file after all others.
 * So every project of the repository ran one file at a time (stop 29's CI: 56 minutes on two
 * cores, one of them mostly idle). Projects that can share the machine say so with this.
 */
export const PARALLEL_WORKERS = Math.max(2, availableParallelism())
