/** A small uPlot chart over time buckets, sized to its box (it follows the box's width). */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: number[];
  /** Drawn as bars (counts) rather than a line. */
  bars?: boolean;
  /** A measure, not a count: buckets without requests are skipped over, not drawn as zero. */
  measure?: boolean;
}

export function Chart(props: {
  title: string;
  /** Bucket starts, in seconds since the epoch. */
  times: number[];
  series: Series[];
  format: (value: number) => string;
  /** Hourly buckets show times of day; daily ones show dates. */
  daily: boolean;
}) {
  const { title, times, series, format, daily } = props;
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const bars = uPlot.paths.bars?.({ size: [0.7, 40] });
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height: 180,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        {
          stroke: '#64748b',
          grid: { show: false },
          values: (_u, ticks) =>
            ticks.map((t) => {
              const d = new Date(t * 1000);
              return daily
                ? d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })
                : d.toLocaleTimeString('en-GB', {
                    hour: '2-digit',
                    minute: '2-digit',
                    timeZone: 'UTC',
                  });
            }),
        },
        {
          stroke: '#64748b',
          grid: { stroke: '#e2e8f0', width: 1 },
          size: 64,
          values: (_u, ticks) => ticks.map(format),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: s.bars ? s.color : s.measure ? undefined : `${s.color}22`,
          ...(s.bars && bars && { paths: bars }),
          spanGaps: s.measure ?? false,
          points: { show: s.measure ?? false, size: 5 },
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : format(v)),
        })),
      ],
    };
    const plot = new uPlot(options, [times, ...series.map((s) => s.values)], element);
    const resize = new ResizeObserver(() => {
      plot.setSize({ width: Math.max(element.clientWidth, 200), height: 180 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, format, daily]);

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} className="chart-box" role="img" aria-label={title} />
    </figure>
  );
}
