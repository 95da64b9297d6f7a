import { expect, test } from 'vitest'
import { SLOT_WINDOW } from './chain-layout.ts'
import { depositRecoverable, NO_STOP_SLOTS, stopSlotsOf, upgradeNotice } from './network-upgrade.ts'

test('reads the stop slots a daemon reports under runtimeConfig.daemon', () => {
  expect(stopSlotsOf({ daemon: { slot_tx_end: 1200, slot_chain_end: 1300 } })).toEqual({
    txEnd: 1200n,
    chainEnd: 1300n,
  })
  // Yojson may print an int as a string on other paths: both are taken.
  expect(stopSlotsOf({ daemon: { slot_tx_end: '1200' } })).toEqual({ txEnd: 1200n, chainEnd: null })
  // A daemon without stop slots (no upgrade planned), or a node without the field.
  expect(stopSlotsOf({ daemon: {} })).toEqual(NO_STOP_SLOTS)
  expect(stopSlotsOf({ genesis: { k: 290 } })).toEqual(NO_STOP_SLOTS)
})

test('anything that is not a UInt32 slot reads as not set, never as a throw', () => {
  for (const bad of [
    null,
    undefined,
    42,
    'x',
    [],
    { daemon: null },
    { daemon: 'slot 5' },
    { daemon: { slot_tx_end: -1 } },
    { daemon: { slot_tx_end: 1.5 } },
    { daemon: { slot_tx_end: 2 ** 32 } },
    { daemon: { slot_tx_end: '4294967296' } },
    { daemon: { slot_tx_end: '12 ' } },
    { daemon: { slot_tx_end: {} } },
    { daemon: { slot_tx_end: true } },
  ]) {
    expect(stopSlotsOf(bad)).toEqual(NO_STOP_SLOTS)
  }
})

test('the notice counts down to the earlier stop slot, then says transactions stopped', () => {
  const stop = { txEnd: 500n, chainEnd: 600n }
  expect(upgradeNotice(NO_STOP_SLOTS, 100n)).toEqual({ kind: 'none' })
  expect(upgradeNotice(stop, 100n)).toEqual({ kind: 'announced', txEndSlot: 500n, slotsLeft: 400n })
  expect(upgradeNotice(stop, 500n)).toEqual({ kind: 'stopped', txEndSlot: 500n })
  // A chain end alone (or earlier than the transaction end) stops transactions too.
  expect(upgradeNotice({ txEnd: null, chainEnd: 300n }, 100n)).toMatchObject({ txEndSlot: 300n })
  expect(upgradeNotice({ txEnd: 900n, chainEnd: 300n }, 100n)).toMatchObject({ txEndSlot: 300n })
})

test('a deposit is recoverable only if request, timelock and withdrawal all fit before the stop', () => {
  const timelock = 100n
  const margin = timelock + 2n * BigInt(SLOT_WINDOW)
  expect(depositRecoverable({ kind: 'none' }, timelock)).toBe(true)
  const at = (slotsLeft: bigint) =>
    depositRecoverable({ kind: 'announced', txEndSlot: 1000n, slotsLeft }, timelock)
  expect(at(margin + 1n)).toBe(true)
  expect(at(margin)).toBe(false)
  expect(at(1n)).toBe(false)
  expect(depositRecoverable({ kind: 'stopped', txEndSlot: 1000n }, timelock)).toBe(false)
})
