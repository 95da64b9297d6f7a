import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Supervisor } from './supervisor.ts'

/** The sources the built agent is made of (scripts/build-agent.mjs). */
const SOURCES = ['agent', 'protocol', 'contracts'] as const
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build-agent.mjs'] as const

async function newestMtime(path: string): Promise<number> {
  const s = await stat(path)
  if (!s.isDirectory()) return s.mtimeMs
  let newest = 0
  for (const entry of await readdir(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue
    newest = Math.max(newest, await newestMtime(join(path, entry)))
  }
  return newest
}

/** True when dist/agent is missing or older than any of its sources. */
export async function agentBuildIsStale(repo: string): Promise<boolean> {
  const built = await stat(join(repo, 'dist/agent/cli.js')).catch(() => null)
  if (!built) return true
  for (const p of [...SOURCES, ...BUILD_INPUTS])
    if ((await newestMtime(join(repo, p))) > built.mtimeMs) return true
  return false
}

/**
 * Builds the agent the way a runner host installs it (`npm run build`), when its sources changed:
 * the local runner then calls bin/zkrunner-agent, as GitLab Runner's custom executor does there.
 * Not rebuilt when fresh, so a second stack over the same checkout does not replace the chunks
 * a running agent (the gateway) still loads lazily.
 */
export async function ensureAgentBuilt(
  sup: Supervisor,
  repo: string,
  log: (line: string) => void,
): Promise<void> {
  if (!(await agentBuildIsStale(repo))) return
  log('building the runner agent (npm run build)…')
  const code = await sup.exec({
    name: 'build agent',
    command: process.execPath,
    args: [join(repo, 'scripts/build-agent.mjs')],
    cwd: repo,
    onLine: (line) => log(`  [build] ${line}`),
  })
  if (code !== 0) throw new Error(`building the agent failed (exit ${code}); run \`npm run build\``)
}
