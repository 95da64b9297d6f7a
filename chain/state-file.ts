import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { z } from 'zod'
import { ChainError } from './errors.ts'

// The saved state of a local chain. It keeps what is needed to rebuild the ledger by replay:
// the dev-account parameters and every included zkApp command with the slot and height it
// was applied at, plus the recent empty blocks so the best chain reads the same after a restart.

const FORMAT = 'zkrunner-chain-state/1'

const blockSchema = z.object({
  height: z.number().int().positive(),
  slot: z.number().int().nonnegative(),
  timestamp: z.number().int().nonnegative(),
  commands: z.array(
    z.object({
      json: z.record(z.string(), z.unknown()),
      status: z.enum(['applied', 'failed']),
    }),
  ),
})

const stateSchema = z.object({
  format: z.literal(FORMAT),
  chainId: z.string().min(1),
  genesisTimestamp: z.number().int().nonnegative(),
  slotDurationMs: z.number().int().positive(),
  clockOffsetMs: z.number().int(),
  seed: z.string().min(1),
  accounts: z.number().int().positive(),
  accountBalance: z.string().regex(/^\d+$/),
  /** Blocks that include commands, in height order. */
  blocks: z.array(blockSchema),
  /** The most recent blocks, with or without commands (commands omitted here). */
  recent: z.array(blockSchema.omit({ commands: true })),
})

/** The contents of a state file. */
export type ChainState = z.infer<typeof stateSchema>
/** One saved block. */
export type SavedBlock = z.infer<typeof blockSchema>

/** The format tag written into every state file. */
export const STATE_FORMAT = FORMAT

/** Reads and validates a state file; returns undefined when the file does not exist. */
export async function readStateFile(path: string): Promise<ChainState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ChainError('STATE_FILE_INVALID', `cannot read ${path}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ChainError('STATE_FILE_INVALID', `${path} is not JSON`)
  }
  const parsed = stateSchema.safeParse(json)
  if (!parsed.success)
    throw new ChainError(
      'STATE_FILE_INVALID',
      `${path} is not a ${FORMAT} file: ${parsed.error.issues[0]?.message}`,
    )
  return parsed.data
}

/** Writes a state file atomically (temporary file, then rename). */
export async function writeStateFile(path: string, state: ChainState): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await writeFile(tmp, JSON.stringify(state))
  await rename(tmp, path)
}
