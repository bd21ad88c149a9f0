/** The report's two charts, drawn with uPlot: followers over time, and each recent post's engagement rate. */

import uPlot from "uplot";

import type { Post, Schemas } from "../../typescript/src/index.js";

const WIDTH = 440;
const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 2 });
const DAY_S = 86_400;
const HEIGHT = 220;

export function followerChart(target: HTMLElement, snapshots: Schemas["ProfileSnapshot"][]): uPlot | null {
  const points = snapshots
    .filter((s) => s.captured_at)
    .map((s) => [Date.parse(s.captured_at as string) / 1000, Number(s.followers_count)] as const)
    .sort((a, b) => a[0] - b[0]);
  if (points.length === 0) return null;
  const data: uPlot.AlignedData = [points.map((p) => p[0]), points.map((p) => p[1])];
  const first = points[0]?.[0] ?? 0;
  const last = points[points.length - 1]?.[0] ?? 0;
  return new uPlot(
    {
      width: WIDTH,
      height: HEIGHT,
      // A single snapshot (a creator searched once) still gets a readable week around it.
      scales: { x: { time: true, range: last - first < DAY_S ? [first - 3 * DAY_S, last + 3 * DAY_S] : [first, last] } },
      series: [
        {},
        { label: "Followers", stroke: "#2b6cb0", width: 2, points: { show: true, size: 7 }, value: (_u, v) => (v == null ? "—" : compact.format(v)) },
      ],
      axes: [{}, { size: 60, values: (_u, ticks) => ticks.map((t) => compact.format(t)) }],
    },
    data,
    target,
  );
}

export function engagementBars(target: HTMLElement, posts: Post[]): uPlot | null {
  const rated = posts.filter((p) => p.engagement_rate !== undefined);
  if (rated.length === 0) return null;
  const data: uPlot.AlignedData = [rated.map((_, i) => i + 1), rated.map((p) => (p.engagement_rate ?? 0) * 100)];
  const bars = uPlot.paths.bars?.({ size: [0.6, 40] });
  return new uPlot(
    {
      width: WIDTH,
      height: HEIGHT,
      scales: { x: { time: false } },
      series: [
        { label: "Post" },
        { label: "Engagement %", stroke: "#2f855a", fill: "rgba(47,133,90,0.5)", ...(bars ? { paths: bars } : {}) },
      ],
      axes: [
        // One tick per post, numbered as the post cards are.
        { splits: () => rated.map((_, i) => i + 1), values: (_u, ticks) => ticks.map((t) => `#${t}`) },
        { values: (_u, ticks) => ticks.map((t) => `${t.toFixed(1)} %`), size: 60 },
      ],
    },
    data,
    target,
  );
}
