import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

// o1js's LocalBlockchain checks the signatures of account updates only for accounts that
// already exist, so a signed update that creates an account would go unchecked (a zkApp could
// be deployed to an address without its key). A Mina node checks every signature; so do we,
// with the zkApp-command signature check that o1js itself ships (its bundled mina-signer).
// It is not part of o1js's public exports, hence the path import; o1js is pinned exactly.

type VerifyZkappCommandSignature = (
  zkappCommand: unknown,
  publicKey: string,
  networkId: string,
  feePayerPublicKey?: string,
) => boolean

let verifier: Promise<VerifyZkappCommandSignature> | undefined

function loadVerifier(): Promise<VerifyZkappCommandSignature> {
  verifier ??= (async () => {
    const o1jsMain = createRequire(import.meta.url).resolve('o1js')
    const file = join(dirname(o1jsMain), 'mina-signer/src/sign-zkapp-command.js')
    const mod = (await import(pathToFileURL(file).href)) as {
      verifyZkappCommandSignature?: VerifyZkappCommandSignature
    }
    if (typeof mod.verifyZkappCommandSignature !== 'function')
      throw new Error(`o1js no longer ships verifyZkappCommandSignature at ${file}`)
    return mod.verifyZkappCommandSignature
  })()
  return verifier
}

interface CommandShape {
  feePayer: { body: { publicKey: string } }
  accountUpdates: { body: { publicKey: string; authorizationKind: { isSigned: boolean } } }[]
}

/**
 * Checks the fee payer's signature and the signature of every signed account update.
 * Returns a description of the first bad signature, or undefined when all are valid.
 */
export async function findBadSignature(
  command: CommandShape,
  networkId: string,
): Promise<string | undefined> {
  const verify = await loadVerifier()
  const feePayer = command.feePayer.body.publicKey
  const signers = [feePayer]
  for (const au of command.accountUpdates) {
    const pk = au.body.publicKey
    if (au.body.authorizationKind.isSigned && !signers.includes(pk)) signers.push(pk)
  }
  for (const pk of signers) {
    let ok = false
    try {
      ok = verify(command, pk, networkId, feePayer)
    } catch {
      ok = false
    }
    if (!ok)
      return pk === feePayer
        ? `invalid signature of the fee payer or of an account update of ${pk}`
        : `invalid signature on an account update of ${pk}`
  }
  return undefined
}
