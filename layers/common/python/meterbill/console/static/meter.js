// The meter page's trend chart: reads the series the page embeds as JSON (#series), plots it with uPlot as
// bars or a curve, shades the buckets holding estimated intervals, and zooms by dragging (uPlot's own).
(function () {
  "use strict";
  var SHADE = "rgba(179, 92, 0, 0.22)";
  var chart = null;
  var mode = "bars";

  function readSeries() {
    var node = document.getElementById("series");
    return node ? JSON.parse(node.textContent) : null;
  }

  function shadeEstimated(data) {
    return function (u) {
      var ctx = u.ctx, xs = data.x, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      ctx.fillStyle = SHADE;
      for (var i = 0; i < xs.length; i++) {
        if (!data.estimated[i]) continue;
        var step = i + 1 < xs.length ? xs[i + 1] - xs[i] : (i > 0 ? xs[i] - xs[i - 1] : 3600);
        var left = u.valToPos(xs[i] - step / 2, "x", true);
        var right = u.valToPos(xs[i] + step / 2, "x", true);
        ctx.fillRect(left, top, right - left, height);
      }
      ctx.restore();
    };
  }

  function width(box) {
    return Math.max(200, Math.floor(box.clientWidth));
  }

  function draw(data) {
    var box = document.getElementById("chart");
    if (chart) chart.destroy();
    var bars = mode === "bars";
    var opts = {
      width: width(box),
      height: 300,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      series: [
        {},
        {
          label: data.unit,
          stroke: "#0b4f9c",
          width: bars ? 1 : 2,
          fill: bars ? "rgba(11, 79, 156, 0.55)" : "rgba(11, 79, 156, 0.12)",
          paths: bars ? uPlot.paths.bars({ size: [0.7, 60], align: 0 }) : undefined,
          points: { show: !bars && data.x.length < 60 }
        }
      ],
      axes: [{}, { label: data.unit }],
      hooks: { drawClear: [shadeEstimated(data)] }
    };
    chart = new uPlot(opts, [data.x, data.y], box);
    box.setAttribute("data-points", String(data.x.length));
  }

  function setMode(next, data) {
    mode = next;
    document.getElementById("as-bars").setAttribute("aria-pressed", String(next === "bars"));
    document.getElementById("as-curve").setAttribute("aria-pressed", String(next === "curve"));
    draw(data);
  }

  function start() {
    var data = readSeries();
    if (!data) return;
    draw(data);
    document.getElementById("as-bars").addEventListener("click", function () { setMode("bars", data); });
    document.getElementById("as-curve").addEventListener("click", function () { setMode("curve", data); });
    window.addEventListener("resize", function () {
      if (chart) chart.setSize({ width: width(document.getElementById("chart")), height: 300 });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
