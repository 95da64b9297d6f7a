import { FungibleToken } from 'mina-fungible-token'
import { PublicKey, TokenId } from 'o1js'
import { CreditAdmin } from './credit-admin.ts'

// The standard token's admin rules are pluggable through this static; ours is CreditAdmin.
FungibleToken.AdminContract = CreditAdmin

/** The credit token: the standard Mina fungible token, governed by CreditAdmin. */
export const CreditToken = FungibleToken

let creditAddress: PublicKey | undefined

/**
 * Selects the credit token the service contracts accept. Its address is a constant of the service
 * circuit (no state field is left for it), so set it before compiling or proving: the
 * verification key of a service then commits to the token it is paid in.
 */
export function setCreditTokenAddress(address: PublicKey): void {
  if (creditAddress !== undefined && !creditAddress.equals(address).toBoolean()) {
    throw new Error(
      'credit token address already set to another token; compiled circuits would mismatch',
    )
  }
  creditAddress = address
}

/** The credit token address set by setCreditTokenAddress. */
export function creditTokenAddress(): PublicKey {
  if (creditAddress === undefined) throw new Error('call setCreditTokenAddress() first')
  return creditAddress
}

/** The credit token id: TokenId.derive(creditTokenAddress()). */
export function creditTokenId() {
  return TokenId.derive(creditTokenAddress())
}
