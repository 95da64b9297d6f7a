import { constants } from 'node:fs'
import { type FileHandle, lstat, mkdir, open, realpath, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import {
  checkOutputValue,
  OutputNameSchema,
  type OutputSpec,
  type WrittenOutput,
} from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { removeAsUser } from '../isolation/remove-as-user.ts'

/** Directory in the job's working directory that holds what the job writes for the agent. */
export const OUTPUTS_DIR = '.zkrunner'
/** The outputs file in OUTPUTS_DIR: one JSON object `{"name": …, "value": …}` per line. */
export const OUTPUTS_FILE = 'outputs.jsonl'
/** Bytes of the outputs file the agent reads at most: 32 outputs of short values fit many times over. */
export const MAX_OUTPUTS_FILE_BYTES = 64 * 1024
/** The variable that tells `zkrunner-agent output` where the job's outputs file is. */
export const OUTPUTS_FILE_VARIABLE = 'ZKRUNNER_OUTPUTS_FILE'

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_WRONLY, O_APPEND, O_CREAT } = constants

/** A path naming `name` inside the directory open as `dir`, resolved by the kernel from the fd. */
const at = (dir: FileHandle, name: string) => `/proc/self/fd/${dir.fd}/${name}`

/** The outputs file of a job that runs in `cwd`. */
export const outputsFilePath = (cwd: string): string => join(cwd, OUTPUTS_DIR, OUTPUTS_FILE)

/**
 * Removes what an earlier job left in the working directory (GitLab reuses build directories), so
 * a job's outputs are only what it wrote. Nothing is followed: a `.zkrunner` that is a symlink is
 * removed itself, and the file is unlinked inside the directory opened without following links.
 * With `user` (the job's, when the agent is root) the outputs file, or a directory by its name, is
 * removed as that user: the user's processes may run meanwhile (the signer's caller, a GitLab
 * job's leftovers of an earlier stage), and root's recursive removal of a directory they swap
 * parts of follows the symlinks they put in (remove-as-user.ts).
 */
export async function clearOutputs(
  cwd: string,
  user?: { uid: number; gid: number } | null,
): Promise<void> {
  const root = await open(await realpath(cwd), O_RDONLY | O_DIRECTORY)
  try {
    const st = await lstat(at(root, OUTPUTS_DIR)).catch(() => null)
    if (!st) return
    if (!st.isDirectory()) {
      // As the job user too: `cwd` was opened by its path, which a process of the user may have
      // swapped for a symlink to any directory; root would unlink a `.zkrunner` of anyone's.
      if (!user) await unlink(at(root, OUTPUTS_DIR))
      else await removeOrRefuse(root, OUTPUTS_DIR, user, `${OUTPUTS_DIR} in ${cwd}`)
      return
    }
    const dir = await open(at(root, OUTPUTS_DIR), O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    try {
      // A job may leave a directory (or anything else) by that name: removed too, links not
      // followed, or the next job in a reused build directory could never start.
      if (!user) await rm(at(dir, OUTPUTS_FILE), { recursive: true, force: true })
      else if (await lstat(at(dir, OUTPUTS_FILE)).catch(() => null))
        await removeOrRefuse(dir, OUTPUTS_FILE, user, `${OUTPUTS_DIR}/${OUTPUTS_FILE} in ${cwd}`)
    } finally {
      await dir.close()
    }
  } finally {
    await root.close()
  }
}

/**
 * Removes `name` from `dir` as `user`, and refuses the job when it is still there (owned by
 * someone else?): an earlier job's outputs would pass for this one's.
 */
async function removeOrRefuse(
  dir: FileHandle,
  name: string,
  user: { uid: number; gid: number },
  what: string,
): Promise<void> {
  await removeAsUser(dir, name, user)
  if (await lstat(at(dir, name)).catch(() => null))
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `${what} could not be cleared before the job`,
    )
}

/** What the job wrote, and why anything it wrote could not be read (never the file's bytes). */
export interface ReadOutputs {
  written: WrittenOutput[]
  problems: string[]
  /** Whether the job left an outputs file at all. */
  present: boolean
}

/**
 * Reads the outputs the job wrote to `<cwd>/.zkrunner/outputs.jsonl` after it ended (its leftover
 * processes are killed first). The directory is the job's and the agent may be root, so the file
 * is opened component by component without following a symlink, must be a regular file with one
 * link (a hard link could name a file the job cannot read), and is read up to
 * MAX_OUTPUTS_FILE_BYTES. Problems never quote the file's bytes; a line that does not parse is
 * named by its number.
 */
export async function readOutputs(cwd: string): Promise<ReadOutputs> {
  const out: ReadOutputs = { written: [], problems: [], present: false }
  const root = await open(await realpath(cwd), O_RDONLY | O_DIRECTORY)
  let dir: FileHandle | undefined
  let fh: FileHandle | undefined
  const refused = (what: string) => {
    out.present = true
    out.problems.push(`${OUTPUTS_DIR}/${OUTPUTS_FILE}: ${what}; no output was read from it`)
    return out
  }
  try {
    const dirStat = await lstat(at(root, OUTPUTS_DIR)).catch(() => null)
    if (!dirStat) return out
    if (!dirStat.isDirectory())
      return refused(
        `${OUTPUTS_DIR} is ${dirStat.isSymbolicLink() ? 'a symlink' : 'not a directory'}`,
      )
    try {
      dir = await open(at(root, OUTPUTS_DIR), O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    } catch {
      return refused(`${OUTPUTS_DIR} could not be opened without following a link`)
    }
    const st = await lstat(at(dir, OUTPUTS_FILE)).catch(() => null)
    if (!st) return out
    if (st.isSymbolicLink()) return refused('a symlink')
    if (!st.isFile()) return refused('not a regular file')
    try {
      fh = await open(at(dir, OUTPUTS_FILE), O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    } catch {
      return refused('could not be opened without following a link')
    }
    const now = await fh.stat()
    if (now.ino !== st.ino || now.dev !== st.dev || !now.isFile())
      return refused('replaced while it was read')
    if (now.nlink !== 1) return refused('hard-linked')
    if (now.size > MAX_OUTPUTS_FILE_BYTES)
      return refused(`larger than ${MAX_OUTPUTS_FILE_BYTES} bytes`)
    const buf = Buffer.alloc(MAX_OUTPUTS_FILE_BYTES + 1)
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0)
    if (bytesRead > MAX_OUTPUTS_FILE_BYTES)
      return refused(`larger than ${MAX_OUTPUTS_FILE_BYTES} bytes`)
    out.present = true
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, bytesRead))
    } catch {
      return refused('not UTF-8')
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return
      const entry = parseLine(line)
      if (entry) out.written.push(entry)
      else
        out.problems.push(
          `${OUTPUTS_DIR}/${OUTPUTS_FILE} line ${i + 1}: not {"name": …, "value": …}`,
        )
    })
    return out
  } finally {
    await fh?.close().catch(() => {})
    await dir?.close().catch(() => {})
    await root.close()
  }
}

function parseLine(line: string): WrittenOutput | null {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const keys = Object.keys(value)
  const v = value as Record<string, unknown>
  if (keys.length !== 2 || typeof v.name !== 'string' || !('value' in v)) return null
  if (!['string', 'boolean', 'number'].includes(typeof v.value)) return null
  return { name: v.name, value: v.value }
}

/**
 * What `zkrunner-agent output NAME VALUE` does inside a job: checks the name and, when the job
 * sees its service's declarations (`ZKRUNNER_OUTPUTS`), that it is declared and the value fits its
 * type, so the script fails where the mistake is; then appends one line to the outputs file
 * (O_APPEND: parallel writers do not tear lines). A name already written is refused. The agent
 * checks everything again after the job: this command is a convenience, not the guard.
 */
export async function writeOutput(args: {
  file: string
  name: string
  value: string
  specs?: readonly OutputSpec[]
}): Promise<void> {
  const usage = (message: string) => new AgentError(AgentErrorCode.EXECUTOR_USAGE, message)
  if (!OutputNameSchema.safeParse(args.name).success)
    throw usage(
      `output name ${JSON.stringify(args.name.slice(0, 80))}: must be letters, digits and _`,
    )
  if (args.specs) {
    const spec = args.specs.find((s) => s.name === args.name)
    if (!spec)
      throw usage(
        `${args.name} is not an output of this service (declared: ${args.specs.map((s) => s.name).join(', ') || 'none'})`,
      )
    const checked = checkOutputValue(spec, args.value)
    if (!checked.ok) throw usage(`${args.name}: ${checked.message}`)
  }
  const line = `${JSON.stringify({ name: args.name, value: args.value })}\n`
  if (line.length > 4096) throw usage(`${args.name}: value too long`)
  await mkdir(join(args.file, '..'), { recursive: true })
  const existing = await open(args.file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK).catch(() => null)
  if (existing) {
    try {
      const text = (await existing.readFile({ encoding: 'utf8' })).slice(0, MAX_OUTPUTS_FILE_BYTES)
      for (const l of text.split('\n'))
        if (parseLine(l)?.name === args.name)
          throw usage(`${args.name} was already written: an output is written once`)
    } finally {
      await existing.close()
    }
  }
  const fh = await open(args.file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644)
  try {
    await fh.write(line)
  } finally {
    await fh.close()
  }
}
