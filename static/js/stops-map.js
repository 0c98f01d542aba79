// Today's stops on a map, numbered in list order and joined in that order. Works
// without tiles (a plain background); a tile server is used when configured.
(function () {
  "use strict";
  var element = document.getElementById("stops-map");
  var data = document.getElementById("stops-data");
  if (!element || !data || !window.L) return;
  var stops = JSON.parse(data.textContent);
  if (!stops.length) { element.hidden = true; return; }
  var map = L.map(element, { attributionControl: false });
  var tiles = element.getAttribute("data-tiles");
  if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
  var points = stops.map(function (stop) {
    var marker = L.marker([stop.lat, stop.lon], {
      title: stop.name,
      icon: L.divIcon({
        className: "stop-icon",
        // Classes, not style attributes: the CSP refuses inline styles.
        html: '<span class="stop-' + (stop.light || "amber") + '">' + stop.n + "</span>",
        iconSize: [26, 26],
      }),
    }).addTo(map);
    marker.bindPopup(stop.n + ". " + stop.name + " (" + stop.code + ")");
    return [stop.lat, stop.lon];
  });
  L.polyline(points, { color: "#12355b", weight: 2, dashArray: "4 4" }).addTo(map);
  map.fitBounds(points, { padding: [24, 24], maxZoom: 17 });
})();
