import { sha512 } from '@noble/hashes/sha2.js'
import { PrivateKey, Scalar } from 'o1js'

/** A pre-funded key pair of the local chain, in Mina's base58 encodings. */
export interface DevAccount {
  publicKey: string
  privateKey: string
}

/**
 * Derives `count` key pairs from a seed, so the same seed always yields the same accounts
 * (like a local Ethereum node's default mnemonic) and a saved state replays onto them.
 */
export function deriveDevAccounts(seed: string, count: number): DevAccount[] {
  const accounts: DevAccount[] = []
  for (let i = 0; i < count; i++) {
    const digest = sha512(new TextEncoder().encode(`zkrunner-chain/dev-account/${seed}/${i}`))
    let x = 0n
    for (const b of digest) x = (x << 8n) | BigInt(b)
    // 512 bits reduced modulo the scalar field order: uniform, and never zero in practice.
    const key = PrivateKey.fromBigInt((x % (Scalar.ORDER - 1n)) + 1n)
    accounts.push({ publicKey: key.toPublicKey().toBase58(), privateKey: key.toBase58() })
  }
  return accounts
}
