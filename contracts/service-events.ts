import { Struct, UInt32 } from 'o1js'

/** The runner showed it was alive at `slot`. */
export class HeartbeatEvent extends Struct({ slot: UInt32 }) {}
