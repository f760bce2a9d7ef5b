/* Leader dashboard: density map + heat (Leaflet), charts (ECharts, SVG), live counters (SSE).
   Charts do not animate: the screen refreshes its data, and redrawing in motion each time
   distracts on a wall screen and costs office PCs CPU. */
(function () {
  "use strict";
  var C = window.Cityops, S = C.strings();
  var root = document.getElementById("dashboard");
  if (!root) { return; }
  var COLORS = ["#f1f5fb", "#cfe0f3", "#9ec3e6", "#6aa1d6", "#3b7cc4", "#1d58a0", "#0d3a75"];
  var charts = {};
  var map, density = null, heat = null, heatPoints = [], hotspotLayer = null, hotspotRows = [];
  var state = { level: "street", days: 30 };

  function setCounters(values) {
    Object.keys(values).forEach(function (k) {
      var el = root.querySelector('[data-counter="' + k + '"] b');
      if (el) { C.text(el, values[k]); }
    });
  }

  function chart(id) {
    if (!charts[id]) {
      charts[id] = echarts.init(document.getElementById(id), null, { renderer: "svg" });
    }
    return charts[id];
  }

  function noData(id) {
    chart(id).setOption({ title: { text: S.no_data, left: "center", top: "middle", textStyle: { fontSize: 13, color: "#888" } } }, true);
  }

  var grid = { left: 40, right: 16, top: 28, bottom: 28, containLabel: true };

  function drawTrend(t) {
    chart("chart-trend").setOption({
      animation: false,
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: grid,
      xAxis: { type: "category", data: t.days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: S.reported, type: "line", smooth: true, data: t.reported, areaStyle: { opacity: 0.15 } },
        { name: S.closed, type: "line", smooth: true, data: t.closed }
      ]
    }, true);
  }

  function drawClasses(rows) {
    if (!rows.length) { return noData("chart-classes"); }
    var top = rows.slice().reverse();
    chart("chart-classes").setOption({
      animation: false,
      tooltip: {}, grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: top.map(function (r) { return r.name; }) },
      series: [{ name: S.cases, type: "bar", data: top.map(function (r) { return r.count; }), itemStyle: { color: "#3b7cc4" } }]
    }, true);
  }

  function drawOnTime(id, rows) {
    if (!rows.length) { return noData(id); }
    chart(id).setOption({
      animation: false,
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: grid,
      xAxis: { type: "category", data: rows.map(function (r) { return r.name; }), axisLabel: { rotate: 30, fontSize: 10 } },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", max: 100, axisLabel: { formatter: "{value}%" } }],
      series: [
        { name: S.handled, type: "bar", data: rows.map(function (r) { return r.handled; }), itemStyle: { color: "#9ec3e6" } },
        { name: S.on_time, type: "line", yAxisIndex: 1, data: rows.map(function (r) { return r.rate == null ? null : Math.round(r.rate * 1000) / 10; }) }
      ]
    }, true);
  }

  function pct(v) { return v == null ? null : Math.round(v * 1000) / 10; }

  function drawRates(id, rows) {
    if (!rows.length) { return noData(id); }
    chart(id).setOption({
      animation: false,
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: grid,
      xAxis: { type: "category", data: rows.map(function (r) { return r.name || r.key; }), axisLabel: { rotate: 30, fontSize: 10 } },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        { name: S.response, type: "bar", data: rows.map(function (r) { return pct(r.response_rate); }) },
        { name: S.resolution, type: "bar", data: rows.map(function (r) { return pct(r.resolution_rate); }) },
        { name: S.satisfaction, type: "bar", data: rows.map(function (r) { return pct(r.satisfaction_rate); }) }
      ]
    }, true);
  }

  function colour(value, max) {
    if (!value) { return COLORS[0]; }
    var i = Math.min(COLORS.length - 1, 1 + Math.floor((value / max) * (COLORS.length - 2)));
    return COLORS[i];
  }

  function legend(max) {
    var el = document.getElementById("legend");
    el.replaceChildren();
    el.appendChild(C.make("span", "", "0"));
    COLORS.forEach(function (c) { var i = C.make("i"); i.style.background = c; el.appendChild(i); });
    el.appendChild(C.make("span", "", max.toFixed(1) + " " + S.per_km2));
  }

  function drawDensity() {
    var params = { days: state.days, zoom: Math.max(11, Math.round(map.getZoom())) };
    if (state.level === "grid") {
      if (map.getZoom() < 15) { map.setZoom(15); return; }
      params.bbox = CityMap.bboxOf(map);
    }
    C.getJSON("/map/layer/" + state.level + "?" + new URLSearchParams(params).toString()).then(function (data) {
      var features = data.features || [];
      var max = 0;
      features.forEach(function (f) {
        var km2 = (f.properties.area_m2 || 1) / 1e6;
        f.properties.density = (f.properties.cases || 0) / km2;
        max = Math.max(max, f.properties.density);
      });
      if (density) { map.removeLayer(density); }
      density = L.geoJSON(data, {
        style: function (f) {
          return { color: "#35608f", weight: state.level === "grid" ? 0.4 : 1, fillOpacity: 0.72, fillColor: colour(f.properties.density, max || 1) };
        },
        onEachFeature: function (f, layer) {
          layer.bindTooltip(f.properties.name + ": " + (f.properties.cases || 0) + " · " + f.properties.density.toFixed(1) + " " + S.per_km2);
        }
      }).addTo(map);
      density.bringToBack();
      if (!map._fitted && features.length) { map.fitBounds(density.getBounds(), { animate: false }); map._fitted = true; }
      legend(max);
      root.setAttribute("data-map-features", String(features.length));
    });
  }

  function drawHeat() {
    if (heat) { map.removeLayer(heat); heat = null; }
    if (!document.getElementById("heat-toggle").checked || !heatPoints.length || !L.heatLayer) { return; }
    heat = L.heatLayer(heatPoints, { radius: 14, blur: 18, minOpacity: 0.35, maxZoom: 15 }).addTo(map);
  }

  function drawAnomalies(rows) {
    var body = document.getElementById("anomalies");
    body.textContent = "";
    rows.forEach(function (a) {
      var tr = C.make("tr");
      tr.setAttribute("data-anomaly", a.street_code + "/" + a["class"]);
      tr.title = a.baseline_days.map(function (d, i) { return d.slice(5) + ": " + a.baseline[i]; }).join("  ");
      [a.street_name, a.class_name, a.day.slice(5), a.count, a.median, a.score].forEach(function (v) {
        tr.appendChild(C.make("td", null, v));
      });
      body.appendChild(tr);
    });
    document.getElementById("anomalies-none").hidden = rows.length > 0;
  }

  function drawHotspots(rows) {
    hotspotRows = rows;
    var body = document.getElementById("hotspots");
    body.textContent = "";
    rows.forEach(function (h) {
      var tr = C.make("tr");
      tr.setAttribute("data-hotspot", h.code);
      [h.name, h.reported, h.density_per_km2 == null ? "" : h.density_per_km2].forEach(function (v) {
        tr.appendChild(C.make("td", null, v));
      });
      body.appendChild(tr);
    });
    drawHotspotLayer();
  }

  function drawHotspotLayer() {
    if (hotspotLayer) { map.removeLayer(hotspotLayer); hotspotLayer = null; }
    if (!document.getElementById("hotspot-toggle").checked || !hotspotRows.length) { return; }
    var top = hotspotRows[0].density_per_km2 || 1;
    hotspotLayer = L.layerGroup(hotspotRows.filter(function (h) { return h.lat != null; }).map(function (h) {
      var radius = 6 + 14 * Math.sqrt((h.density_per_km2 || 0) / top);
      return L.circleMarker([h.lat, h.lon], { radius: radius, color: "#b22222", weight: 2, fillOpacity: 0.15 })
        .bindTooltip(S.hotspot + " · " + h.name + ": " + h.reported + " · " + h.density_per_km2 + " " + S.per_km2);
    })).addTo(map);
  }

  function loadData() {
    return C.getJSON("/dashboard/data?days=" + state.days).then(function (d) {
      setCounters(d.counters);
      drawTrend(d.trend);
      drawClasses(d.top_classes);
      drawOnTime("chart-ontime-street", d.on_time_street);
      drawOnTime("chart-ontime-department", d.on_time_department);
      drawRates("chart-rates-street", d.rates_street);
      drawRates("chart-rates-department", d.rates_department);
      heatPoints = d.heat;
      drawHeat();
      drawAnomalies(d.anomalies);
      drawHotspots(d.hotspots);
      root.setAttribute("data-loaded", "1");
    });
  }

  function live() {
    if (!window.EventSource) { return; }
    var badge = document.getElementById("live");
    var source = new EventSource("/dashboard/stream");
    source.addEventListener("counters", function (ev) {
      setCounters(JSON.parse(ev.data));
      badge.classList.add("on");
      C.text(badge, S.live);
    });
    source.onerror = function () { badge.classList.remove("on"); C.text(badge, S.offline); };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var tiles = root.getAttribute("data-tiles");
    if (tiles) { document.body.setAttribute("data-tiles", tiles); }
    map = CityMap.create(document.getElementById("dash-map"), { preferCanvas: false });
    map.setView([39.85, 116.29], 11);
    drawDensity();
    map.on("moveend", C.debounce(function () { if (state.level === "grid") { drawDensity(); } }, 400));
    root.querySelectorAll('input[name="level"]').forEach(function (r) {
      r.addEventListener("change", function () { state.level = r.value; drawDensity(); });
    });
    document.getElementById("heat-toggle").addEventListener("change", drawHeat);
    document.getElementById("hotspot-toggle").addEventListener("change", drawHotspotLayer);
    document.getElementById("days").addEventListener("change", function (ev) {
      state.days = parseInt(ev.target.value, 10);
      drawDensity();
      loadData();
    });
    loadData();
    live();
    window.addEventListener("resize", C.debounce(function () {
      Object.keys(charts).forEach(function (k) { charts[k].resize(); });
    }, 200));
  });
})();
