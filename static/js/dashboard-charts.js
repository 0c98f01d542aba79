// The dashboard's charts (Chart.js, vendored in static/vendor/chartjs/): the
// semáforo per child unit as stacked bars, and the unit's indicators of the month.
// Data and words come from the page's "dashboard-charts-data" island (translated
// by the server); figures are formatted in the page's language (es-PE: 12,5 %).
// Colours are the stylesheet's (--green, --amber, --red, --red-late, --chart).
// The CSP allows no inline style: the canvas boxes are sized in semaforo.css, and
// Chart.js only touches the canvas' style through the CSSOM, which it allows.
(function () {
  "use strict";
  var island = document.getElementById("dashboard-charts-data");
  if (!island || !window.Chart) return;
  var data = JSON.parse(island.textContent);
  var locale = document.documentElement.lang || "es-PE";  // Chart.js' own formats
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue("--" + name).trim(); }
  var colours = {
    green: colour("green"), amber: colour("amber"),
    red_pending: colour("red"), red_late: colour("red-late"),
  };
  // Numbers as the rest of the page writes them (Django's format for its language,
  // sent in the island): the chart's 33,3 % is the table's 33,3 %.
  function number(value, decimals) {
    var parts = value.toFixed(decimals).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, data.format.thousands);
    return parts.join(data.format.decimal);
  }
  var integer = { format: function (value) { return number(value, 0); } };
  function percent(value) { return value === null ? "—" : number(value, 1) + " %"; }
  // Long Spanish labels on two lines, so a phone keeps them whole.
  function wrap(label) {
    var lines = [];
    label.split(" ").forEach(function (word) {
      var last = lines.length - 1;
      if (last >= 0 && (lines[last] + " " + word).length <= 20) lines[last] += " " + word;
      else lines.push(word);
    });
    return lines;
  }
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  Chart.defaults.locale = locale;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = colour("ink");
  Chart.defaults.animation = reduced ? false : { duration: 300 };
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;  // the CSS box gives the height

  function show(canvas) {
    var box = canvas.parentNode;
    box.hidden = false;
    return box;
  }

  // The semáforo per child unit: one stacked bar per unit, green to red.
  var lights = document.getElementById("lights-chart");
  if (lights && data.lights.labels.length) {
    var box = show(lights);
    // One bar line per unit: an agency's 40 officers get a taller box (CSSOM).
    box.style.height = Math.max(160, 34 * data.lights.labels.length + 80) + "px";
    new Chart(lights, {
      type: "bar",
      data: {
        labels: data.lights.labels,
        datasets: data.lights.datasets.map(function (set) {
          return {
            label: set.label, data: set.data, backgroundColor: colours[set.bucket],
            maxBarThickness: 26,
          };
        }),
      },
      options: {
        indexAxis: "y",
        scales: {
          x: {
            stacked: true, beginAtZero: true,
            title: { display: true, text: data.lights.axis },
            ticks: { precision: 0, callback: function (value) { return integer.format(value); } },
          },
          y: { stacked: true },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 14 } },
          tooltip: {
            callbacks: {
              title: function (items) {
                var i = items[0].dataIndex;
                return data.lights.labels[i] + " · " + data.lights.names[i];
              },
              label: function (item) {
                return item.dataset.label + ": " + integer.format(item.raw);
              },
            },
          },
        },
      },
    });
    lights.closest("section").classList.add("charted");
  }

  // The unit's indicators of the month, 0 to 100 %, each bar with its figure.
  var ratios = document.getElementById("ratios-chart");
  if (ratios) {
    show(ratios);
    var figures = {
      id: "figures",
      afterDatasetsDraw: function (chart) {
        var ctx = chart.ctx;
        var meta = chart.getDatasetMeta(0);
        ctx.save();
        ctx.fillStyle = colour("ink");
        ctx.font = "600 12px " + Chart.defaults.font.family;
        ctx.textBaseline = "middle";
        meta.data.forEach(function (bar, i) {
          var value = chart.data.datasets[0].data[i];
          var text = percent(value);
          var x = value === null ? chart.scales.x.left : bar.x;
          var width = ctx.measureText(text).width;
          var inside = x + 6 + width > chart.chartArea.right;
          ctx.fillStyle = inside ? "#fff" : colour("ink");
          ctx.textAlign = inside ? "right" : "left";
          ctx.fillText(text, inside ? x - 6 : x + 6, bar.y);
        });
        ctx.restore();
      },
    };
    new Chart(ratios, {
      type: "bar",
      data: {
        labels: data.ratios.labels.map(wrap),
        datasets: [{
          label: data.ratios.axis, data: data.ratios.data,
          backgroundColor: colour("chart"), maxBarThickness: 26,
        }],
      },
      options: {
        indexAxis: "y",
        scales: {
          x: {
            min: 0, max: 100,
            title: { display: true, text: data.ratios.axis },
            ticks: {
              stepSize: 25, maxRotation: 0,
              callback: function (value) { return integer.format(value) + " %"; },
            },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (item) { return percent(item.raw); } } },
        },
      },
      plugins: [figures],
    });
  }
})();
