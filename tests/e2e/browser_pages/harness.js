// Draws the known series into #chart as wide as the page allows; the test reads the canvas's pixels.
const chart = document.getElementById('chart');
window.harnessPlot = new uPlot(
  {
    width: chart.clientWidth,
    height: 200,
    scales: { x: { time: false } },
    series: [{}, { label: 'kWh', stroke: 'rgb(0, 0, 255)', width: 2 }],
  },
  [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    [3, 5, 2, 8, 6, 9, 4, 7, 5, 10, 6, 8],
  ],
  chart,
);
