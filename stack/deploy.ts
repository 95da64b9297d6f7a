import { type PrivateKey, type PublicKey, TokenId } from 'o1js'
import {
  accountExists,
  compileAll,
  deployCreditToken,
  deployRegistry,
  deployService,
  type FeePayer,
  genuineCode,
  mintCredits,
  publishService,
  readCredits,
  serviceDeployProps,
  setCreditTokenAddress,
} from '../contracts/index.ts'
import { cidToFields, type GenuineCode, unwrap } from '../protocol/index.ts'

// Network selection and the Worker key hash live with the contracts (the deploy command uses
// them too); re-exported for the stack's callers.
export { selectNetwork, sendHeartbeat, workerKeyHash } from '../contracts/index.ts'

/** The contracts of the local stack and who holds what. */
export interface Deployment {
  token: string
  registry: string
  service: string
  /** Base58 token id of the credit token (the service's vault lives under it). */
  creditTokenId: string
  /** What readers compare services with: the compiled contracts' key hashes (protocol). */
  genuine: GenuineCode
}

/** What the deployment is made from. */
export interface DeployInput {
  payer: FeePayer
  tokenKey: PrivateKey
  tokenAdminContractKey: PrivateKey
  tokenAdminKey: PrivateKey
  registryKey: PrivateKey
  serviceKey: PrivateKey
  /** The service's ChannelLedger key (even y). */
  ledgerKey: PrivateKey
  runnerKey: PrivateKey
  /** Users to fund with credits on first start. */
  users: PublicKey[]
  creditsPerUser: bigint
  pricePerJob: bigint
  withdrawTimelockSlots: number
  sourceCommitment: string
  descriptorCid: string
  workerPublicKey: string
  log: (line: string) => void
}

const included = async (p: { wait: () => Promise<unknown> }) => {
  await p.wait()
}

/**
 * Deploys what is missing, in order: credit token and admin, credits for the dev users, the
 * registry, the sample service version (frozen) and its registry entry. Each step checks the
 * chain first, so a restart over a saved chain deploys nothing twice.
 */
export async function ensureDeployed(input: DeployInput): Promise<Deployment> {
  const { payer, log } = input
  const token = input.tokenKey.toPublicKey()
  const registry = input.registryKey.toPublicKey()
  const service = input.serviceKey.toPublicKey()
  setCreditTokenAddress(token)
  log('compiling contracts (cached keys in .zkrunner/o1js-cache; the first start takes minutes)…')
  const times = await compileAll(token)
  log(
    `compiled in ${Object.values(times)
      .reduce((a, b) => a + b, 0)
      .toFixed(0)} s`,
  )

  if (!(await accountExists(token))) {
    log('deploying the credit token and its admin…')
    await included(
      await deployCreditToken(payer, {
        tokenKey: input.tokenKey,
        adminContractKey: input.tokenAdminContractKey,
        admin: input.tokenAdminKey.toPublicKey(),
        symbol: 'CRED',
        decimals: 0,
        src: 'https://github.com/zkrunner/zkrunner',
      }),
    )
  }
  for (const user of input.users) {
    if ((await readCredits(user)) === 0n) {
      log(`minting ${input.creditsPerUser} credits to ${user.toBase58()}…`)
      await included(await mintCredits(payer, input.tokenAdminKey, user, input.creditsPerUser))
    }
  }
  if (!(await accountExists(registry))) {
    log('deploying the service registry…')
    await included(await deployRegistry(payer, input.registryKey))
  }
  await ensureService(input, {
    serviceKey: input.serviceKey,
    ledgerKey: input.ledgerKey,
    sourceCommitment: input.sourceCommitment,
    descriptorCid: input.descriptorCid,
    what: 'the sample service version',
  })
  return {
    token: token.toBase58(),
    registry: registry.toBase58(),
    service: service.toBase58(),
    creditTokenId: TokenId.toBase58(TokenId.derive(token)),
    // From the compile above (cached keys): never hard-coded, since the circuits embed the token.
    genuine: await genuineCode(token),
  }
}

/** One more service version of the same runner: its contract and its descriptor. */
export interface ServiceVersionInput {
  serviceKey: PrivateKey
  /** The version's ChannelLedger key (even y). */
  ledgerKey: PrivateKey
  sourceCommitment: string
  descriptorCid: string
  /** How the log names it (`the GitHub service version`). */
  what: string
}

/**
 * Deploys a service version (frozen) and publishes it in the registry, unless its contract is
 * already on chain. Needs the contracts compiled and the registry deployed (ensureDeployed).
 */
export async function ensureService(
  input: Omit<
    DeployInput,
    'serviceKey' | 'ledgerKey' | 'sourceCommitment' | 'descriptorCid' | 'users'
  >,
  version: ServiceVersionInput,
): Promise<{ service: string }> {
  const { payer, log } = input
  const service = version.serviceKey.toPublicKey()
  if (!(await accountExists(service))) {
    log(`deploying ${version.what} (frozen)…`)
    const cid = unwrap(cidToFields(version.descriptorCid))
    await included(
      await deployService(
        payer,
        version.serviceKey,
        version.ledgerKey,
        serviceDeployProps(
          {
            sourceCommitment: version.sourceCommitment,
            pricePerJob: String(input.pricePerJob),
            runnerPublicKey: input.runnerKey.toPublicKey().toBase58(),
            workerPublicKey: input.workerPublicKey,
          },
          version.descriptorCid,
          input.withdrawTimelockSlots,
        ),
      ),
    )
    log('publishing it in the registry…')
    await included(
      await publishService(payer, input.registryKey.toPublicKey(), input.runnerKey, service, cid),
    )
  }
  return { service: service.toBase58() }
}
