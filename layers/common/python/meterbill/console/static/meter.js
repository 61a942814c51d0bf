// The meter page's trend chart: reads the series the page embeds as JSON (#series), plots it with uPlot as
// bars or a curve, shades the buckets holding estimated intervals, and zooms by dragging (uPlot's own).
// Times are on the site's clock (data.axis.timezone) and written day first ("4 Nov", "14:00"); bars start
// at data.bars_y_min (0) and the x range is padded by half a bucket (data.x_range) so no bar is clipped.
// The scales in force are mirrored on #chart as data-x-min, data-x-max, data-y-min, data-y-max and the
// axis's labels as data-x-ticks (for the browser tests).
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

  function formatter(axis, options) {
    var all = { timeZone: axis.timezone };
    for (var k in options) all[k] = options[k];
    return new Intl.DateTimeFormat(axis.locale, all);
  }

  function labels(data) {
    var axis = data.axis;
    var tick = formatter(axis, axis.ticks);
    var midnight = axis.midnight ? formatter(axis, axis.midnight) : null;
    var clock = formatter(axis, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    var legend = formatter(axis, axis.legend);
    return {
      tick: function (seconds) {
        var at = new Date(seconds * 1000);
        return midnight && clock.format(at) === "00:00" ? midnight.format(at) : tick.format(at);
      },
      legend: function (seconds) { return legend.format(new Date(seconds * 1000)); }
    };
  }

  function xRange(data) {
    var first = data.x[0], last = data.x[data.x.length - 1], padded = data.x_range;
    return function (u, min, max) {
      // the whole series (first draw, double-click): padded by half a bucket; a zoom: as dragged
      if (padded && min <= first && max >= last) return [Math.min(min, padded[0]), Math.max(max, padded[1])];
      return [min, max];
    };
  }

  function barsYRange(data) {
    var bottom = data.bars_y_min;
    return function (u, min, max) {
      if (max == null || max <= bottom) return [bottom, bottom + 1];
      return [bottom, uPlot.rangeNum(bottom, max, 0.1, true)[1]];
    };
  }

  function mirrorScales(box) {
    return function (u) {
      box.setAttribute("data-x-min", String(u.scales.x.min));
      box.setAttribute("data-x-max", String(u.scales.x.max));
      box.setAttribute("data-y-min", String(u.scales.y.min));
      box.setAttribute("data-y-max", String(u.scales.y.max));
    };
  }

  function width(box) {
    return Math.max(200, Math.floor(box.clientWidth));
  }

  function draw(data) {
    var box = document.getElementById("chart");
    if (chart) chart.destroy();
    var bars = mode === "bars";
    var write = labels(data);
    var yScale = bars ? { range: barsYRange(data) } : {};
    var opts = {
      width: width(box),
      height: 300,
      cursor: { drag: { x: true, y: false } },
      tzDate: function (seconds) { return uPlot.tzDate(new Date(seconds * 1000), data.axis.timezone); },
      scales: { x: { time: true, range: xRange(data) }, y: yScale },
      series: [
        { value: function (u, seconds) { return seconds == null ? "--" : write.legend(seconds); } },
        {
          label: data.unit,
          stroke: "#0b4f9c",
          width: bars ? 1 : 2,
          fill: bars ? "rgba(11, 79, 156, 0.55)" : "rgba(11, 79, 156, 0.12)",
          paths: bars ? uPlot.paths.bars({ size: [0.7, 60], align: 0 }) : undefined,
          points: { show: !bars && data.x.length < 60 }
        }
      ],
      axes: [
        {
          values: function (u, splits) {
            var shown = splits.map(function (s) { return s == null ? "" : write.tick(s); });
            box.setAttribute("data-x-ticks", shown.join("|"));
            return shown;
          }
        },
        { label: data.unit }
      ],
      hooks: { drawClear: [shadeEstimated(data)], setScale: [mirrorScales(box)], ready: [mirrorScales(box)] }
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
