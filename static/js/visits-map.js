// The day's visits on a map: GPS-verified ones in green, off-radius ones in red
// (classes, not style attributes: the CSP refuses inline styles). Works without
// tiles (a plain background); a tile server is used when configured.
(function () {
  "use strict";
  var element = document.getElementById("visits-map");
  var data = document.getElementById("visits-data");
  if (!element || !data || !window.L) return;
  var visits = JSON.parse(data.textContent);
  if (!visits.length) { element.hidden = true; return; }
  var map = L.map(element, { attributionControl: false });
  var tiles = element.getAttribute("data-tiles");
  if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
  var points = visits.map(function (visit) {
    var marker = L.marker([visit.lat, visit.lon], {
      title: visit.name,
      icon: L.divIcon({
        className: "visit-icon",
        html: '<span class="visit-' + (visit.ok ? "ok" : "off") + '"></span>',
        iconSize: [16, 16],
      }),
    }).addTo(map);
    var text = document.createElement("span");  // text nodes: names are not markup
    text.textContent = visit.at + " · " + visit.name + " (" + visit.code + ") · " +
      visit.officer + " · " + visit.result;
    marker.bindPopup(text);
    return [visit.lat, visit.lon];
  });
  map.fitBounds(points, { padding: [24, 24], maxZoom: 16 });
})();
