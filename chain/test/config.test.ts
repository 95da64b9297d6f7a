import { describe, expect, it } from 'vitest'
import { configFromEnv, DEFAULT_CONFIG, resolveConfig } from '../config.ts'
import { ChainError } from '../errors.ts'

describe('chain config', () => {
  it('uses the defaults when nothing is given', () => {
    expect(resolveConfig()).toEqual(DEFAULT_CONFIG)
    expect(DEFAULT_CONFIG.port).toBe(3085)
  })

  it('lets flags win over the environment, and the environment over defaults', () => {
    const env = configFromEnv({
      ZKRUNNER_CHAIN_PORT: '4000',
      ZKRUNNER_CHAIN_PROOFS: 'true',
      ZKRUNNER_CHAIN_MIN_FEE: '5',
    })
    const config = resolveConfig(env, { port: '5000' })
    expect(config.port).toBe(5000)
    expect(config.proofsEnabled).toBe(true)
    expect(config.minFee).toBe(5n)
    expect(config.blockIntervalMs).toBe(DEFAULT_CONFIG.blockIntervalMs)
  })

  it('ignores empty environment variables', () => {
    expect(configFromEnv({ ZKRUNNER_CHAIN_PORT: '' })).toEqual({})
  })

  it('rejects invalid values once, naming the option and its variable', () => {
    const attempt = () => resolveConfig({ port: 'eighty' })
    expect(attempt).toThrow(ChainError)
    expect(attempt).toThrow(/port.*ZKRUNNER_CHAIN_PORT/)
    expect(() => resolveConfig({ proofsEnabled: 'maybe' })).toThrow(/proofsEnabled/)
    expect(() => resolveConfig({ blockIntervalMs: 0 })).toThrow(/blockIntervalMs/)
    expect(() => resolveConfig({ minFee: '-1' })).toThrow(/minFee/)
    expect(() => resolveConfig({ accountBalance: '99999999999999999999999' })).toThrow(
      /accountBalance/,
    )
  })
})
