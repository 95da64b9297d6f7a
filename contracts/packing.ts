import { Field, Provable, Struct, UInt32, UInt64 } from 'o1js'

const TWO_32 = Field(1n << 32n)
const TWO_64 = Field(1n << 64n)

/** Frozen commercial terms, packed in one state field: price + timelock * 2^64. */
export class Terms extends Struct({ pricePerJob: UInt64, withdrawTimelockSlots: UInt32 }) {
  /** The packed field; unique because both parts are range-checked. */
  pack(): Field {
    return this.pricePerJob.value.add(this.withdrawTimelockSlots.value.mul(TWO_64))
  }

  /** Unpacks `packed` in circuit: witnesses the parts, then proves they pack back to it. */
  static unpack(packed: Field): Terms {
    const terms = Provable.witness(Terms, () => {
      const n = packed.toBigInt()
      return new Terms({
        pricePerJob: UInt64.from(n & ((1n << 64n) - 1n)),
        withdrawTimelockSlots: UInt32.from(n >> 64n),
      })
    })
    terms.pack().assertEquals(packed)
    return terms
  }
}

/** Liveness and counters, packed in one state field: lastHeartbeatSlot + settledJobs * 2^32. */
export class Heartbeat extends Struct({ lastHeartbeatSlot: UInt32, settledJobs: UInt64 }) {
  /** The packed field; unique because both parts are range-checked. */
  pack(): Field {
    return this.lastHeartbeatSlot.value.add(this.settledJobs.value.mul(TWO_32))
  }

  /** Unpacks `packed` in circuit: witnesses the parts, then proves they pack back to it. */
  static unpack(packed: Field): Heartbeat {
    const hb = Provable.witness(Heartbeat, () => {
      const n = packed.toBigInt()
      return new Heartbeat({
        lastHeartbeatSlot: UInt32.from(n & ((1n << 32n) - 1n)),
        settledJobs: UInt64.from(n >> 32n),
      })
    })
    hb.pack().assertEquals(packed)
    return hb
  }
}
