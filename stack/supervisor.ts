import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/** How a supervised process is started and when it counts as ready. */
export interface ProcessSpec {
  /** Short name used in log prefixes and errors. */
  name: string
  command: string
  args: readonly string[]
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Resolve `start` once a line of stdout or stderr matches. */
  readyLine?: RegExp
  /** Resolve `start` once this URL answers any HTTP status. */
  readyUrl?: string
  readyTimeoutMs?: number
  /** Every output line, for logs. */
  onLine?: (line: string) => void
}

/** A process the supervisor started. */
export interface Supervised {
  name: string
  child: ChildProcess
  /** Resolves with the exit code (or null when killed by a signal). */
  exited: Promise<number | null>
}

/** The stack could not start a process, or one died while it was needed. */
export class ProcessError extends Error {
  override readonly name = 'ProcessError'
  constructor(
    readonly code: 'PROCESS_START_FAILED' | 'PROCESS_EXITED' | 'PROCESS_NOT_READY',
    message: string,
  ) {
    super(message)
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Starts child processes in their own process groups and stops every one of them, children of
 * children included, so Ctrl-C or a failure never leaves an orphan holding a port.
 */
export class Supervisor {
  readonly #running = new Set<Supervised>()
  #stopping = false

  /** Spawns `spec` (argument array, no shell) and waits until it is ready. */
  async start(spec: ProcessSpec): Promise<Supervised> {
    if (this.#stopping)
      throw new ProcessError('PROCESS_START_FAILED', `${spec.name}: stack is stopping`)
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    )
    const proc: Supervised = { name: spec.name, child, exited }
    this.#running.add(proc)
    void exited.then(() => this.#running.delete(proc))

    let readyFromLine: (() => void) | undefined
    const lineReady = new Promise<void>((resolve) => {
      readyFromLine = resolve
    })
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue
      createInterface({ input: stream }).on('line', (line) => {
        spec.onLine?.(line)
        if (spec.readyLine?.test(line)) readyFromLine?.()
      })
    }
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (e) =>
        reject(new ProcessError('PROCESS_START_FAILED', `${spec.name}: ${e.message}`)),
      ),
    )
    const died = exited.then((code) => {
      throw new ProcessError(
        'PROCESS_EXITED',
        `${spec.name} exited with ${code ?? 'a signal'} before it was ready`,
      )
    })
    const timeoutMs = spec.readyTimeoutMs ?? 60_000
    const ready = (async () => {
      if (spec.readyLine) await lineReady
      if (spec.readyUrl) await waitForUrl(spec.readyUrl, timeoutMs)
    })()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ProcessError(
              'PROCESS_NOT_READY',
              `${spec.name} was not ready after ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      )
    })
    try {
      await Promise.race([ready, spawnError, died, timeout])
    } catch (e) {
      await this.#stop(proc)
      throw e
    } finally {
      clearTimeout(timer)
      died.catch(() => {})
      spawnError.catch(() => {})
    }
    return proc
  }

  /**
   * Runs a short-lived command to completion, tracked like the services so that stopping the
   * stack also stops it. `killOnLine` SIGKILLs the process itself (not its group) as soon as it
   * prints a line for which it returns true, to inject a crash at a known point of its work.
   */
  async exec(
    spec: Pick<ProcessSpec, 'name' | 'command' | 'args' | 'cwd' | 'env' | 'onLine'>,
    options: {
      killOnLine?: (line: string) => boolean
      onKill?: (pid: number | undefined) => void
    } = {},
  ): Promise<number | null> {
    if (this.#stopping)
      throw new ProcessError('PROCESS_START_FAILED', `${spec.name}: stack is stopping`)
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code) => resolve(code))
    })
    const proc: Supervised = { name: spec.name, child, exited }
    this.#running.add(proc)
    let killed = false
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        spec.onLine?.(line)
        if (!killed && options.killOnLine?.(line)) {
          killed = true
          options.onKill?.(child.pid)
          child.kill('SIGKILL')
        }
      })
    }
    try {
      return await exited
    } finally {
      this.#running.delete(proc)
    }
  }

  /** Stops one process (and its group), e.g. to restart it. */
  async stop(proc: Supervised, graceMs = 5000): Promise<void> {
    await this.#stop(proc, graceMs)
  }

  /** SIGKILLs one process and its group at once, as a crash would, and waits until it is gone. */
  async kill(proc: Supervised): Promise<void> {
    const pid = proc.child.pid
    if (pid === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return
    signalGroup(pid, 'SIGKILL')
    await proc.exited
  }

  /** Stops every running process: SIGTERM to its group, SIGKILL after `graceMs`. */
  async stopAll(graceMs = 5000): Promise<void> {
    this.#stopping = true
    await Promise.all([...this.#running].map((p) => this.#stop(p, graceMs)))
  }

  async #stop(proc: Supervised, graceMs = 5000): Promise<void> {
    const pid = proc.child.pid
    if (pid === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return
    signalGroup(pid, 'SIGTERM')
    const done = await Promise.race([
      proc.exited.then(() => true),
      sleep(graceMs).then(() => false),
    ])
    if (!done) signalGroup(pid, 'SIGKILL')
    await proc.exited
    // The leader may be gone while its group lives on (e.g. workerd under wrangler).
    signalGroup(pid, 'SIGKILL')
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

/** Polls `url` until it answers any HTTP status. */
export async function waitForUrl(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) })
      return
    } catch {
      if (Date.now() > deadline)
        throw new ProcessError('PROCESS_NOT_READY', `${url} did not answer in ${timeoutMs} ms`)
      await sleep(200)
    }
  }
}
