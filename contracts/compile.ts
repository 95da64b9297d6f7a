import { Cache, type PublicKey, TransactionVersion } from 'o1js'
import type { GenuineCode } from '../protocol/index.ts'
import { ChannelLedger, ledgerReducer } from './channel-ledger.ts'
import { CreditAdmin } from './credit-admin.ts'
import { CreditToken, setCreditTokenAddress } from './credit-token.ts'
import { LedgerVault } from './ledger-vault.ts'
import { ServiceContract } from './service-contract.ts'
import { ServiceRegistry } from './service-registry.ts'

/** Where compiled keys are cached (gitignored). */
export const DEFAULT_CACHE_DIR = new URL('../.zkrunner/o1js-cache', import.meta.url).pathname

/** Seconds each contract took to compile. */
export type CompileTimes = Record<string, number>

type Compilable = { compile(o: { cache: Cache }): Promise<unknown> }

/** The credit token each contract class was last compiled for in this process (its circuits hold it). */
const compiledFor = new Map<Compilable, string>()

// The ledger's circuit verifies the action-stack program's proofs: the program compiles first.
// `BatchReducer.compile()` takes no cache, so its program is compiled directly.
const ActionStack = ledgerReducer.program as unknown as Compilable

const ALL: readonly (readonly [string, Compilable])[] = [
  ['CreditAdmin', CreditAdmin],
  ['CreditToken', CreditToken],
  ['ServiceContract', ServiceContract],
  ['LedgerActionStack', ActionStack],
  ['ChannelLedger', ChannelLedger],
  ['LedgerVault', LedgerVault],
  ['ServiceRegistry', ServiceRegistry],
]

/** Compiles one contract for the credit token at `creditToken` (set first), and remembers it. */
export async function compileFor(
  c: Compilable,
  creditToken: PublicKey,
  cache: Cache,
): Promise<void> {
  setCreditTokenAddress(creditToken)
  compiledFor.delete(c)
  await c.compile({ cache })
  compiledFor.set(c, creditToken.toBase58())
}

/**
 * Compiles every contract for the credit token at `creditToken`, using a key cache. Call
 * `setBackend('native')` before anything else touches o1js to prove natively.
 */
export async function compileAll(
  creditToken: PublicKey,
  cacheDir: string = DEFAULT_CACHE_DIR,
): Promise<CompileTimes> {
  setCreditTokenAddress(creditToken)
  const cache = Cache.FileSystem(cacheDir)
  const times: CompileTimes = {}
  for (const [name, c] of ALL) {
    const t0 = performance.now()
    await compileFor(c, creditToken, cache)
    times[name] = (performance.now() - t0) / 1000
  }
  return times
}

/**
 * Every contract compiled for this credit token, compiling only those this process has not: the
 * operator's commands run in the local stack's process (and a re-run of `offer` after a
 * failure), and `deploy service` after `token` and `registry` in one process, then prove without
 * compiling again what they already compiled, minutes under load.
 */
export async function ensureCompiledAll(
  creditToken: PublicKey,
  cacheDir: string = DEFAULT_CACHE_DIR,
): Promise<void> {
  await ensureCompiled(
    ALL.map(([, c]) => c),
    creditToken,
    cacheDir,
  )
}

/**
 * Compiles each of `contracts` unless this process already compiled it for this credit token: a
 * command that proves with one contract (a reveal's registry listing) after others in the same
 * process (the tests, the local stack) reuses the circuit instead of compiling it again.
 */
export async function ensureCompiled(
  contracts: readonly Compilable[],
  creditToken: PublicKey,
  cacheDir: string = DEFAULT_CACHE_DIR,
): Promise<void> {
  const token = creditToken.toBase58()
  setCreditTokenAddress(creditToken)
  const cache = Cache.FileSystem(cacheDir)
  for (const c of contracts) {
    if (compiledFor.get(c) !== token) await compileFor(c, creditToken, cache)
  }
}

/**
 * What readers compare a service with (protocol's `GenuineCode`): the verification-key hashes of
 * ServiceContract, ChannelLedger and LedgerVault compiled for the credit token at `creditToken`
 * (the token address is a constant of those circuits, so the hashes differ per token and are
 * never hard-coded), and the transaction version their code freeze holds for.
 */
export async function genuineCode(
  creditToken: PublicKey,
  cacheDir: string = DEFAULT_CACHE_DIR,
): Promise<GenuineCode> {
  setCreditTokenAddress(creditToken)
  const cache = Cache.FileSystem(cacheDir)
  const vkHash = async (c: Compilable) => {
    compiledFor.delete(c)
    const out = (await c.compile({ cache })) as {
      verificationKey: { hash: { toString(): string } }
    }
    compiledFor.set(c, creditToken.toBase58())
    return out.verificationKey.hash.toString()
  }
  const serviceVkHash = await vkHash(ServiceContract)
  if (compiledFor.get(ActionStack) !== creditToken.toBase58()) {
    await ActionStack.compile({ cache })
    compiledFor.set(ActionStack, creditToken.toBase58())
  }
  return {
    serviceVkHash,
    ledgerVkHash: await vkHash(ChannelLedger),
    ledgerVaultVkHash: await vkHash(LedgerVault),
    txnVersion: currentTxnVersion(),
  }
}

/** The transaction version this o1js builds for: a frozen key holds only while the network runs it. */
export const currentTxnVersion = (): string => TransactionVersion.current().toString()
