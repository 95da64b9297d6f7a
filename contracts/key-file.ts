import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { PrivateKey } from 'o1js'
import { z } from 'zod'
import { DeployError } from './deploy-config.ts'

// Key files as zkapp-cli writes them: `{ "privateKey": "EK…", "publicKey": "B62…" }`, mode 0600.

const KeyFileSchema = z.object({ privateKey: z.string().min(1), publicKey: z.string().optional() })

/** Reads a key file; the public key, when present, must match the private key. */
export async function readKeyFile(path: string, what: string): Promise<PrivateKey> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new DeployError('KEY_NOT_FOUND', `${what} key file ${path} not found`)
  }
  let key: PrivateKey
  let publicKey: string | undefined
  try {
    const parsed = KeyFileSchema.parse(JSON.parse(text))
    key = PrivateKey.fromBase58(parsed.privateKey)
    publicKey = parsed.publicKey
  } catch {
    throw new DeployError(
      'INVALID_KEY',
      `${what} key file ${path} is not { privateKey, publicKey }`,
    )
  }
  if (publicKey !== undefined && key.toPublicKey().toBase58() !== publicKey) {
    throw new DeployError('INVALID_KEY', `${what} key file ${path}: publicKey does not match`)
  }
  return key
}

/** Writes a new key file (never overwrites one). */
export async function writeKeyFile(path: string, key: PrivateKey): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const body = { privateKey: key.toBase58(), publicKey: key.toPublicKey().toBase58() }
  await writeFile(path, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
}

/**
 * Reads the key file at `path`, generating it first when absent. `evenY`: the key must have an
 * even y (a service's ledger key: the service keeps its x only); a generated one has, a read one
 * with an odd y is refused.
 */
export async function ensureKeyFile(
  path: string,
  what: string,
  options: { evenY?: boolean } = {},
): Promise<{ key: PrivateKey; created: boolean }> {
  try {
    const key = await readKeyFile(path, what)
    if (options.evenY && key.toPublicKey().isOdd.toBoolean()) {
      throw new DeployError(
        'INVALID_KEY',
        `${what} key file ${path}: the key has an odd y; a ledger key needs an even one (delete the file to generate one)`,
      )
    }
    return { key, created: false }
  } catch (e) {
    if (!(e instanceof DeployError) || e.code !== 'KEY_NOT_FOUND') throw e
  }
  let key = PrivateKey.random()
  while (options.evenY && key.toPublicKey().isOdd.toBoolean()) key = PrivateKey.random()
  await writeKeyFile(path, key)
  return { key, created: true }
}
