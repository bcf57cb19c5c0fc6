// The volume chart, drawn with Chart.js (a maintained, dependency-free canvas chart library). Kept
// in its own module so component tests can replace it (jsdom has no canvas).
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";
import type { TrendPoint } from "../../bindings/TrendPoint";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export interface TrendChart {
  update(points: TrendPoint[]): void;
  destroy(): void;
}

function label(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function drawTrend(canvas: HTMLCanvasElement, points: TrendPoint[]): TrendChart {
  const chart = new Chart<"bar", number[], string>(canvas, {
    type: "bar",
    data: { labels: [], datasets: [] },
    options: { animation: false, responsive: true, maintainAspectRatio: false },
  });
  const set = (p: TrendPoint[]) => {
    chart.data.labels = p.map((x) => label(x.start));
    chart.data.datasets = [
      { label: "created", data: p.map((x) => x.created), backgroundColor: "#4a7bd0" },
      { label: "resolved", data: p.map((x) => x.resolved), backgroundColor: "#3c9a5f" },
    ];
    chart.update();
  };
  set(points);
  return { update: set, destroy: () => chart.destroy() };
}
