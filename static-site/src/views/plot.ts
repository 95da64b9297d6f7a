import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { SampleSeries } from '../samples.ts'
import { h } from './dom.ts'

/** CPU (cores) and resident memory (MiB) over time, from the verified samples file. */
export function renderPlot(series: SampleSeries): HTMLElement {
  const box = h('figure', { class: 'plot', 'data-role': 'plot' })
  const caption = h(
    'figcaption',
    {},
    `CPU and memory over time (${series.t.length} samples, source: ${series.source})`,
  )
  const width = Math.max(320, Math.min(900, (document.body.clientWidth || 900) - 48))
  const opts: uPlot.Options = {
    width,
    height: 280,
    scales: {
      x: { time: false },
      cpu: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      mem: {},
    },
    axes: [
      { label: 'seconds' },
      { scale: 'cpu', label: 'CPU (cores)' },
      { scale: 'mem', label: 'memory (MiB)', side: 1, grid: { show: false } },
    ],
    series: [
      {},
      {
        label: 'CPU',
        scale: 'cpu',
        stroke: '#1b6ac9',
        width: 2,
        value: (_u, v) => (v === null ? '—' : v.toFixed(2)),
      },
      {
        label: 'RSS MiB',
        scale: 'mem',
        stroke: '#c94f1b',
        width: 2,
        value: (_u, v) => (v === null ? '—' : v.toFixed(1)),
      },
    ],
  }
  box.append(caption)
  // uPlot measures its container, so it is attached once the figure is in the document.
  queueMicrotask(() => new uPlot(opts, [series.t, series.cpu, series.memMiB], box))
  return box
}
