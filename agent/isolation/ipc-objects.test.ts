import { describe, expect, it } from 'vitest'
import { ipcObjectsOf } from './ipc-objects.ts'

// The tables as this kernel prints them (columns padded with spaces, header first).
const SHM = `       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap
         0         7   600                  4096  1234     0      0  1001  1001  1001  1001          0          0 1700000000                     0                     0
         0         8   600                  4096  1235     0      0     0     0  1001  1001          0          0 1700000000                     0                     0
         0         9   600                  4096  1236     0      0     0     0     0     0          0          0 1700000000                     0                     0
`
const MSG = `       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime
1234567890        12   644           0          0     0     0  1001  1001     0     0          0          0 1700000000
`

describe('ipcObjectsOf', () => {
  it('finds the objects a uid owns or created, by the header, and no one else’s', () => {
    // 8 was given away to root with IPC_SET: its creator is still the job user.
    expect(ipcObjectsOf('shm', SHM, 1001)).toEqual([
      { kind: 'shm', id: 7 },
      { kind: 'shm', id: 8 },
    ])
    expect(ipcObjectsOf('msg', MSG, 1001)).toEqual([{ kind: 'msg', id: 12 }])
    expect(ipcObjectsOf('shm', SHM, 1002)).toEqual([])
  })

  it('reads nothing from a table without the columns it needs', () => {
    expect(ipcObjectsOf('sem', SHM, 1001)).toEqual([])
    expect(ipcObjectsOf('shm', '', 1001)).toEqual([])
    expect(ipcObjectsOf('shm', 'garbage\n1 2 3', 1001)).toEqual([])
  })
})
