/**
 * Chart.js with only what the charts here draw (bars, lines, their scales, legend and tooltip)
 * registered, so the bundle leaves the rest out. Loaded on first use by BarLineChart.vue.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  Legend,
  Tooltip,
);

export { Chart };
