// The Overview's throughput chart: messages/s and acks/s over the sampler's window as two SVG lines, drawn from
// the in-process ring of samples. Geometry comes from format.ts (pure); this file only makes the elements.
import { svg } from "./dom.ts";
import { chartPoints, formatRate, niceMax } from "./format.ts";
import type { StatsSampleView } from "./stores.ts";

const W = 1000;
const H = 180;

/** `windowMs`: the time shown, ending now (see chartSpan). */
export function throughputChart(samples: readonly StatsSampleView[], windowMs: number, now = Date.now()): SVGElement {
  const max = niceMax(Math.max(0, ...samples.map((s) => Math.max(s.messagesPerSecond, s.acksPerSecond))));
  const last = samples.at(-1);
  const label = last
    ? `Throughput over the last ${Math.round(windowMs / 60_000)} minutes: now ${formatRate(last.messagesPerSecond)} messages per second and ${formatRate(last.acksPerSecond)} acks per second; the axis goes up to ${max}.`
    : "No samples yet.";
  const line = (key: "messagesPerSecond" | "acksPerSecond", cls: string) =>
    svg("polyline", { class: cls, fill: "none", points: chartPoints(samples.map((s) => ({ t: s.t, value: s[key] })), { now, windowMs, width: W, height: H, max }) });
  const grid = [0.25, 0.5, 0.75].map((f) => svg("line", { class: "gridline", x1: 0, x2: W, y1: H * f, y2: H * f }));
  return svg(
    "svg",
    { viewBox: `0 0 ${W} ${H + 18}`, role: "img", "aria-label": label, class: "chart" },
    svg("title", {}, label),
    ...grid,
    svg("line", { class: "axis", x1: 0, x2: W, y1: H, y2: H }),
    line("messagesPerSecond", "series-messages"),
    line("acksPerSecond", "series-acks"),
    svg("text", { x: 4, y: 12, class: "tick" }, `${max}/s`),
    svg("text", { x: 4, y: H + 14, class: "tick" }, `−${Math.round(windowMs / 60_000)} min`),
    svg("text", { x: W - 4, y: H + 14, class: "tick", "text-anchor": "end" }, "now"),
  );
}
