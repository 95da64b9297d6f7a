import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateMinaKeyPair, type MinaKeyPair, publicKeyOf } from '../protocol/index.ts'
import type { AgentConfig } from './config.ts'
import { AgentError, AgentErrorCode } from './errors.ts'
import { mkdirPrivate } from './isolation/private-fs.ts'
import { writeDurable } from './spool/spool.ts'

/** File name of the runner key inside the data directory. */
export const KEY_FILE = 'runner-key.json'

/** Loads the runner oracle key from the config, else from `<dataDir>/runner-key.json`. */
export async function loadRunnerKey(
  config: Pick<AgentConfig, 'runnerKey' | 'dataDir'>,
): Promise<MinaKeyPair> {
  let privateKey = config.runnerKey
  if (privateKey === undefined) {
    const file = join(config.dataDir, KEY_FILE)
    // A key others can read is a key others may have: refused, as ssh refuses such a key.
    const mode = await stat(file).then(
      (st) => st.mode & 0o077,
      () => 0,
    )
    if (mode !== 0)
      throw new AgentError(
        AgentErrorCode.MISSING_KEY,
        `${file} is readable by other users (mode ${(mode | 0o600).toString(8)}): chmod 600 it`,
      )
    try {
      privateKey = (JSON.parse(await readFile(file, 'utf8')) as { privateKey?: string }).privateKey
    } catch {
      throw new AgentError(
        AgentErrorCode.MISSING_KEY,
        `no runner key: set ZKRUNNER_RUNNER_KEY or run \`zkrunner-agent keygen\` (${file})`,
      )
    }
  }
  const pub = privateKey ? publicKeyOf(privateKey) : undefined
  if (!privateKey || !pub?.ok)
    throw new AgentError(AgentErrorCode.MISSING_KEY, 'runner key is not a Mina private key')
  return { publicKey: pub.value, privateKey }
}

/** Creates a runner key in the data directory unless one exists; returns its public key. */
export async function generateRunnerKey(dataDir: string, force = false): Promise<MinaKeyPair> {
  const file = join(dataDir, KEY_FILE)
  if (!force) {
    try {
      return await loadRunnerKey({ dataDir })
    } catch {
      // None yet: create one.
    }
  }
  await mkdirPrivate(dataDir)
  const pair = generateMinaKeyPair()
  // writeDurable creates the file 0600: it is never readable by others, not even while written.
  await writeDurable(file, `${JSON.stringify(pair, null, 2)}\n`)
  return pair
}
