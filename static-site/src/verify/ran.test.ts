import { describe, expect, it } from 'vitest'
import { ranText } from './ran.ts'

describe('how a job ran, from its signed manifest', () => {
  it('names the mode, who chose the command, and the command line, quoting what a shell would split', () => {
    expect(ranText({ ran: { mode: 'signer', command: ['sh', '-c', 'echo passed'] } })).toBe(
      'ran as signer: the runner\'s signer ran a command the job\'s own user chose, for the job the Worker and the provider said was running on that runner: sh -c "echo passed"',
    )
    expect(ranText({ ran: { mode: 'executor', command: ['bash', '/tmp/s/step_script'] } })).toBe(
      "ran as executor: GitLab Runner's custom executor ran the job's own script: bash /tmp/s/step_script",
    )
    expect(ranText({ ran: { mode: 'run', command: ['x'.repeat(400)] } })).toMatch(/x{300}…$/)
  })

  it('says nothing for a manifest from before the runner recorded it', () => {
    expect(ranText({})).toBeNull()
  })
})
