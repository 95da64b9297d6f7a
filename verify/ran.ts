import type { ResultManifest } from '../protocol/index.ts'
import type { VerificationLink } from './links.ts'

/** What each mode means to a reader: who chose the command the runner signed. */
const MODE_TEXT: Record<NonNullable<ResultManifest['ran']>['mode'], string> = {
  executor: "GitLab Runner's custom executor ran the job's own script",
  run: "`zkrunner-agent run` ran a command the job's CI script chose",
  signer:
    "the runner's signer ran a command the job's own user chose, for the job the Worker and the provider said was running on that runner",
}

/** Longest command line shown; the manifest holds all of it. */
const MAX_SHOWN = 300

/**
 * What a terminal or the page would act on rather than show: C0 (JSON.stringify escapes those),
 * DEL and C1 (CSI U+009B, NEL U+0085 …), the bidi marks, embeddings, overrides and isolates,
 * zero-width characters and the line/paragraph separators.
 */
const unshowable = (c: number) =>
  c <= 0x1f ||
  (c >= 0x7f && c <= 0x9f) ||
  c === 0x061c ||
  (c >= 0x200b && c <= 0x200f) ||
  (c >= 0x2028 && c <= 0x202e) ||
  (c >= 0x2060 && c <= 0x206f) ||
  c === 0xfeff

const escapeUnshowable = (text: string) =>
  Array.from(text, (ch) => {
    const c = ch.codePointAt(0) ?? 0
    return unshowable(c) ? `\\u${c.toString(16).padStart(4, '0')}` : ch
  }).join('')

/** One argument as shown: bare when a shell would not split it, else quoted with every control escaped. */
const shownArg = (a: string) =>
  /^[\w@%+=:,./-]+$/.test(a) ? a : escapeUnshowable(JSON.stringify(a))

/**
 * How the job ran, in words, from its signed manifest (`ran`): its mode and command line. Null
 * for manifests from before the runner recorded it. Shared by the page and `zkrunner verify`.
 */
export function ranText(manifest: Pick<ResultManifest, 'ran'>): string | null {
  const { ran } = manifest
  if (!ran) return null
  const line = ran.command.map(shownArg).join(' ')
  const shown = line.length > MAX_SHOWN ? `${line.slice(0, MAX_SHOWN)}…` : line
  return `ran as ${ran.mode}: ${MODE_TEXT[ran.mode]}: ${shown}`
}

/**
 * `ran` is only what the manifest says: shown (page, `zkrunner verify`) only when the manifest is
 * well-formed (or only not asked about a request) and the runner's signature on it holds, so
 * nobody but the runner can put words there. The signature link holds for whatever key the
 * manifest names as its runner, so a runner link found broken (a key that is not the service's
 * runner: anyone's) vouches for nothing either.
 */
export function ranVouched(links: readonly VerificationLink[]): boolean {
  const status = (id: VerificationLink['id']) => links.find((l) => l.id === id)?.status
  const manifest = status('manifest')
  return (
    (manifest === 'ok' || manifest === 'pending') &&
    status('signature') === 'ok' &&
    status('runner') !== 'broken'
  )
}
