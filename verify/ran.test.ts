import { describe, expect, it } from 'vitest'
import { link } from './links.ts'
import { ranText, ranVouched } from './ran.ts'

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

describe('attack: the command line is shown, not interpreted', () => {
  it('escapes C1 controls (CSI U+009B, NEL U+0085) and bidi overrides a terminal or the page would act on', () => {
    // JSON.stringify escapes only U+0000–U+001F, " and \: a job's (or, for a broken bundle,
    // anyone's) argument with C1 controls reaches `zkrunner verify`'s terminal as written, where
    // CSI 8 m conceals what follows (the real verdict line) and NEL starts a fake one.
    const shown = ranText({
      ran: {
        mode: 'signer',
        command: ['sh', '-c', 'true\u0085verified: every link holds\u009b8m', '\u202Etxt.exe'],
      },
    })!
    expect(shown).not.toMatch(/[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/)
  })
})

describe('how a job ran is shown only when the runner vouches for it', () => {
  it('needs the manifest link (held, or undecided for no request) and the signature link to hold', () => {
    const chain = (
      manifest: 'ok' | 'pending' | 'broken',
      signature: 'ok' | 'pending' | 'broken',
    ) => [
      link('bundle', 'ok', ''),
      link('manifest', manifest, ''),
      link('signature', signature, ''),
    ]
    expect(ranVouched(chain('ok', 'ok'))).toBe(true)
    expect(ranVouched(chain('pending', 'ok'))).toBe(true)
    expect(ranVouched(chain('ok', 'broken'))).toBe(false)
    expect(ranVouched(chain('ok', 'pending'))).toBe(false)
    expect(ranVouched(chain('broken', 'ok'))).toBe(false)
    expect(ranVouched([link('bundle', 'broken', '')])).toBe(false)
  })
})
