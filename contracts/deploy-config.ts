import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { z } from 'zod'
import { isPublicKey } from '../protocol/index.ts'

// deploy.json: the deploy aliases of the operator's command (`npm run deploy -- <alias> …`), in
// the shape of zkapp-cli's config.json, plus the addresses the command writes back.

/** Stable codes of every way the deploy and operator commands fail; printed as `deploy: CODE: message`. */
export const DEPLOY_ERROR_CODES = [
  'USAGE',
  'CONFIG_NOT_FOUND',
  'INVALID_CONFIG',
  'UNKNOWN_ALIAS',
  'KEY_NOT_FOUND',
  'INVALID_KEY',
  'NOT_DEPLOYED',
  'ALREADY_DEPLOYED',
  'DESCRIPTOR_NOT_FOUND',
  'INVALID_DESCRIPTOR',
  'DESCRIPTOR_CID_MISMATCH',
  'RUNNER_KEY_MISMATCH',
  'NETWORK',
  'TRANSACTION',
  'NOT_LOCAL',
  'RETIRED',
  'INVALID_REVEAL',
  'WRONG_OPENING',
] as const
/** One of {@link DEPLOY_ERROR_CODES}. */
export type DeployErrorCode = (typeof DEPLOY_ERROR_CODES)[number]

/** A failure the deploy command reports in one line. */
export class DeployError extends Error {
  override readonly name = 'DeployError'
  constructor(
    readonly code: DeployErrorCode,
    message: string,
  ) {
    super(message)
  }
}

const address = z.string().refine(isPublicKey, 'must be a Mina public key (B62…)')

/** An amount of MINA as a decimal string, at most 9 decimals (1 nanomina). */
export const MinaAmountSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,9})(\.[0-9]{1,9})?$/, 'must be MINA as a decimal string, e.g. "0.1"')

/** One deploy alias: where to deploy, who pays, and what is deployed there. */
export const DeployAliasSchema = z.strictObject({
  networkId: z.enum(['devnet', 'mainnet', 'testnet']),
  /** Mina daemon GraphQL endpoint. */
  url: z.url({ protocol: /^https?$/ }),
  /** Archive node GraphQL endpoint. */
  archive: z.url({ protocol: /^https?$/ }),
  /** JSON key file `{ privateKey, publicKey }` (as zkapp-cli writes), relative to deploy.json. */
  feePayerKeyPath: z.string().min(1),
  /** Transaction fee in MINA. */
  fee: MinaAmountSchema,
  /**
   * Prove transactions (the default). `false` only for a local chain that does not verify proofs
   * (`npm run chain` without `--proofs`): transactions then carry dummy proofs and take seconds.
   */
  prove: z.boolean().optional(),
  /** A local chain's Lightnet-compatible account manager, for `fund` (default: `/account-manager` on the url's host). */
  accountManager: z.url({ protocol: /^https?$/ }).optional(),
  /** Where generated contract keys go, relative to deploy.json (default `.zkrunner/keys/<alias>`). */
  keysDir: z.string().min(1).optional(),
  /** Written back by `token`. */
  creditToken: address.optional(),
  /** Written back by `registry`. */
  registry: address.optional(),
  /** Written back by `service`: descriptor CID → service contract address. */
  services: z.record(z.string(), address).optional(),
})
export type DeployAlias = z.infer<typeof DeployAliasSchema>

/** The whole deploy.json. */
export const DeployConfigSchema = z.looseObject({
  version: z.number().int().optional(),
  deployAliases: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), DeployAliasSchema),
})
export type DeployConfig = z.infer<typeof DeployConfigSchema>

/** A loaded deploy.json and one of its aliases. */
export interface ResolvedAlias {
  /** Absolute path of deploy.json. */
  configPath: string
  config: DeployConfig
  name: string
  alias: DeployAlias
  /** Absolute directory of the generated keys of this alias. */
  keysDir: string
  /** Absolute path of the fee payer key file. */
  feePayerKeyPath: string
  /** Fee in nanomina. */
  feeNanomina: number
}

/** Converts MINA as a decimal string to nanomina. */
export function minaToNanomina(mina: string): bigint {
  const [whole = '0', frac = ''] = mina.split('.')
  return BigInt(whole) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'))
}

/** Nanomina as a MINA decimal string. */
export function nanominaToMina(n: bigint): string {
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '')
  return `${n / 1_000_000_000n}${frac ? `.${frac}` : ''}`
}

const issueLine = (error: z.ZodError) =>
  error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')

/** Reads and validates deploy.json, then picks `aliasName`. */
export async function loadAlias(configPath: string, aliasName: string): Promise<ResolvedAlias> {
  const path = resolve(configPath)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new DeployError(
      'CONFIG_NOT_FOUND',
      `${path} not found (copy deploy.example.json to deploy.json, or pass --config)`,
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new DeployError('INVALID_CONFIG', `${path}: not JSON (${(e as Error).message})`)
  }
  const parsed = DeployConfigSchema.safeParse(json)
  if (!parsed.success) {
    throw new DeployError('INVALID_CONFIG', `${path}: ${issueLine(parsed.error)}`)
  }
  const config = parsed.data
  const alias = config.deployAliases[aliasName]
  if (!alias) {
    const known = Object.keys(config.deployAliases).join(', ') || 'none'
    throw new DeployError('UNKNOWN_ALIAS', `no alias "${aliasName}" in ${path} (known: ${known})`)
  }
  const base = dirname(path)
  const at = (p: string) => (isAbsolute(p) ? p : join(base, p))
  return {
    configPath: path,
    config,
    name: aliasName,
    alias,
    keysDir: at(alias.keysDir ?? join('.zkrunner', 'keys', aliasName)),
    feePayerKeyPath: at(alias.feePayerKeyPath),
    feeNanomina: Number(minaToNanomina(alias.fee)),
  }
}

/**
 * Writes `update` into the alias in deploy.json: re-reads the file first so only this alias's
 * addresses change, keeps every other key as is, and replaces the file atomically.
 */
export async function recordInAlias(
  configPath: string,
  aliasName: string,
  update: Partial<Pick<DeployAlias, 'creditToken' | 'registry' | 'services'>>,
): Promise<void> {
  const json = JSON.parse(await readFile(configPath, 'utf8')) as {
    deployAliases: Record<string, Record<string, unknown>>
  }
  const alias = json.deployAliases[aliasName]
  if (!alias)
    throw new DeployError('UNKNOWN_ALIAS', `alias "${aliasName}" vanished from deploy.json`)
  Object.assign(alias, update)
  const tmp = `${configPath}.${process.pid}.tmp`
  await mkdir(dirname(configPath), { recursive: true })
  await writeFile(tmp, `${JSON.stringify(json, null, 2)}\n`)
  await rename(tmp, configPath)
}
