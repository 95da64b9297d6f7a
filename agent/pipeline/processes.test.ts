import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { processAlive, processRef, stopProcessTree } from './processes.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('processes as resume recognises them', () => {
  it('a running process is alive; the same pid with another start time is not', () => {
    const self = processRef(process.pid)
    expect(self.startTicks).toBeTypeOf('number')
    expect(processAlive(self)).toBe(true)
    expect(processAlive({ ...self, startTicks: self.startTicks! + 1 })).toBe(false)
    expect(processAlive({ pid: 2 ** 22 + 1, startTicks: null })).toBe(false)
  })

  it('a zombie is not alive', async () => {
    // Exits at once; its exit is not reaped until the event loop turns.
    const child = spawn('true')
    const ref = processRef(child.pid!)
    for (let i = 0; i < 200 && processAlive(ref); i++) {
      const until = Date.now() + 5
      while (Date.now() < until) {
        // Busy-wait: node reaps children only between turns of the event loop.
      }
    }
    expect(processAlive(ref)).toBe(false)
    expect(child.exitCode).toBeNull()
    await new Promise((r) => child.on('exit', r))
  })

  it('stopping a tree reaches children that ignore SIGTERM or outlive their parent', async () => {
    const root = spawn('sh', ['-c', `sh -c 'trap "" TERM; sleep 60' & echo $!; wait`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    const exited = new Promise((r) => root.on('exit', r))
    const childPid = Number(
      await new Promise<string>((r) => root.stdout.once('data', (b: Buffer) => r(String(b)))),
    )
    const child = processRef(childPid)
    await sleep(50)
    const started = Date.now()
    await stopProcessTree(processRef(root.pid!), 200)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(processAlive(child)).toBe(false)
    await exited
    expect(root.signalCode).toBe('SIGTERM')
  })
})
