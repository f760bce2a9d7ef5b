/* Leaflet maps over the district's own vector layers (no tile server needed). */
(function () {
  "use strict";
  if (!window.L) { return; }

  var STYLE = {
    street: { color: "#35608f", weight: 1.5, fillOpacity: 0.04 },
    community: { color: "#6b8fb8", weight: 1, fillOpacity: 0.03, dashArray: "3" },
    grid: { color: "#9aa9b8", weight: 0.6, fillOpacity: 0.02 }
  };

  function create(el, options) {
    var map = L.map(el, Object.assign({ attributionControl: false, zoomSnap: 0.5 }, options || {}));
    var tiles = document.body.getAttribute("data-tiles");
    if (tiles) { L.tileLayer(tiles, { maxZoom: 19 }).addTo(map); }
    return map;
  }

  function bboxOf(map) {
    var b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return v.toFixed(5);
    }).join(",");
  }

  function layerUrl(level, params) {
    var q = Object.keys(params || {}).filter(function (k) { return params[k] != null; })
      .map(function (k) { return k + "=" + encodeURIComponent(params[k]); }).join("&");
    return "/map/layer/" + level + (q ? "?" + q : "");
  }

  function loadLayer(map, level, params, style) {
    return Cityops.getJSON(layerUrl(level, params)).then(function (data) {
      var layer = L.geoJSON(data, { style: style || STYLE[level] });
      layer.addTo(map);
      return layer;
    });
  }

  /* Streets as the base; grids appear when zoomed in far enough to see them. */
  function baseLayers(map, fit) {
    var grids = null;
    var refreshGrids = Cityops.debounce(function () {
      if (map.getZoom() < 15) {
        if (grids) { map.removeLayer(grids); grids = null; }
        return;
      }
      loadLayer(map, "grid", { bbox: bboxOf(map), zoom: Math.round(map.getZoom()) }).then(function (layer) {
        if (grids) { map.removeLayer(grids); }
        grids = layer;
        layer.bringToBack();
      }).catch(function () {});
    }, 300);
    map.on("moveend", refreshGrids);
    return loadLayer(map, "street", { zoom: 12 }).then(function (streets) {
      if (fit && streets.getLayers().length) { map.fitBounds(streets.getBounds(), { animate: false }); }
      return streets;
    }).catch(function () { return null; });
  }

  function caseMap(el) {
    var node = document.getElementById("map-data");
    if (!node) { return; }
    var data = JSON.parse(node.textContent);
    var map = create(el, { zoomControl: true });
    var point = L.latLng(data.point[1], data.point[0]);
    map.setView(point, 16);  // a view first: vector layers need one to draw
    var shapes = [];
    if (data.community) {
      shapes.push(L.geoJSON(data.community.geometry, { style: STYLE.community }).addTo(map)
        .bindTooltip(data.community.name));
    }
    if (data.grid) {
      shapes.push(L.geoJSON(data.grid.geometry, { style: { color: "#d9534f", weight: 2, fillOpacity: 0.12 } })
        .addTo(map).bindTooltip(data.grid.name || data.grid.code));
    }
    L.circleMarker(point, { radius: 7, color: "#b02a1f", fillColor: "#e8553f", fillOpacity: 0.9 }).addTo(map);
    if (shapes.length) { map.fitBounds(shapes[0].getBounds(), { padding: [10, 10], animate: false }); }
  }

  /* A map to pick a place: click sets lon/lat and tells the page. */
  function pickMap(el) {
    var map = create(el);
    map.setView([39.85, 116.29], 12);
    var marker = null;
    baseLayers(map, true);
    map.on("click", function (ev) { place(ev.latlng, true); });
    function place(latlng, announce) {
      if (marker) { marker.setLatLng(latlng); }
      else { marker = L.circleMarker(latlng, { radius: 8, color: "#b02a1f", fillColor: "#e8553f", fillOpacity: 0.9 }).addTo(map); }
      if (announce) {
        el.dispatchEvent(new CustomEvent("place", { detail: { lon: latlng.lng, lat: latlng.lat } }));
      }
    }
    el.cityMap = { map: map, place: place };
    return map;
  }

  window.CityMap = { create: create, loadLayer: loadLayer, baseLayers: baseLayers, bboxOf: bboxOf, STYLE: STYLE };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-map='case']").forEach(caseMap);
    document.querySelectorAll("[data-map='pick']").forEach(pickMap);
  });
})();
