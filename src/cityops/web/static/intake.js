/* Hotline intake: live suggestions, place by map or region search, duplicates, knowledge base. */
(function () {
  "use strict";
  var C = window.Cityops, S = C.strings();
  var form = document.getElementById("intake");
  if (!form) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var mapEl = $("intake-map");

  function showType() {
    var consult = $("call-type").value === "consultation";
    form.querySelector(".for-consultation").hidden = !consult;
    $("call-class").required = !consult;
  }

  function setPlace(lon, lat) {
    $("lon").value = lon.toFixed(6);
    $("lat").value = lat.toFixed(6);
    form.setAttribute("data-place", "1");
    C.getJSON("/map/locate?lon=" + lon + "&lat=" + lat).then(function (found) {
      var names = [found.street_code, found.community_code, found.grid_code]
        .filter(Boolean).map(function (c) { return found.names[c] || c; });
      C.text($("place-label"), S.place + " " + names.join(" / "));
      if (!$("call-address").value && names.length > 1) { $("call-address").value = names.slice(0, 2).join(""); }
    }).catch(function (err) { C.text($("place-label"), S.outside + " (" + err.message + ")"); });
    refresh();
  }

  function chip(label, onClick) {
    var b = C.make("button", "chip", label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function render(data) {
    var box = $("class-suggestions");
    box.replaceChildren();
    (data.classes || []).forEach(function (s) {
      var value = s.kind + ":" + s.minor_code;
      box.appendChild(chip((s.class_name || s.minor_code) + " " + Math.round(s.confidence * 100) + "%", function () {
        $("call-class").value = value;
        refresh();
      }));
    });
    if (!(data.classes || []).length && data.message) { box.appendChild(C.make("span", "muted small", S.no_model)); }
    var routing = $("routing");
    routing.replaceChildren();
    if (data.routing) {
      routing.appendChild(C.make("span", "", S.suggested + " " + (data.routing.department_name || "—") + " · " + data.routing.reason));
    }
    var list = $("duplicates");
    list.replaceChildren();
    if (data.duplicates && data.duplicates.length) {
      data.duplicates.forEach(function (d) {
        var li = C.make("li");
        li.setAttribute("data-duplicate", d.case_id);
        var a = C.make("a", "", d.number);
        a.href = "/cases/" + d.case_id;
        li.appendChild(a);
        li.appendChild(C.make("span", "", " " + d.class_name + " · " + Math.round(d.distance_m) + " m · " + d.description.slice(0, 40)));
        li.appendChild(C.make("div", "muted small", d.reason));
        list.appendChild(li);
      });
    } else if ($("call-class").value && $("lon").value) {
      list.appendChild(C.make("li", "muted", S.none));
    }
  }

  var refresh = C.debounce(function () {
    var params = new URLSearchParams({ text: $("call-text").value, "class": $("call-class").value });
    if ($("lon").value) { params.set("lon", $("lon").value); params.set("lat", $("lat").value); }
    C.getJSON("/intake/suggest?" + params.toString()).then(render).catch(function () {});
  }, 400);

  var searchRegions = C.debounce(function () {
    var q = $("region-search").value.trim();
    var list = $("region-results");
    list.replaceChildren();
    if (!q) { return; }
    C.getJSON("/map/regions?q=" + encodeURIComponent(q)).then(function (found) {
      found.forEach(function (r) {
        var li = C.make("li");
        li.appendChild(chip(r.name + " (" + r.code + ")", function () {
          $("region-code").value = r.code;
          if (mapEl.cityMap) {
            mapEl.cityMap.map.setView([r.centroid_lat, r.centroid_lon], r.level === "street" ? 14 : 16);
            mapEl.cityMap.place(L.latLng(r.centroid_lat, r.centroid_lon), false);
          }
          setPlace(r.centroid_lon, r.centroid_lat);
          list.replaceChildren();
        }));
        list.appendChild(li);
      });
    });
  }, 300);

  var searchKb = C.debounce(function () {
    var q = $("kb-search").value.trim();
    var list = $("kb-results");
    list.replaceChildren();
    if (!q) { return; }
    C.getJSON("/intake/kb?q=" + encodeURIComponent(q)).then(function (hits) {
      hits.forEach(function (h) {
        var li = C.make("li");
        li.appendChild(chip(S.use, function () {
          $("kb-article").value = h.id;
          $("kb-answer").value = h.body;
        }));
        li.appendChild(C.make("strong", "", " " + h.title));
        li.appendChild(C.make("div", "small muted", h.body.slice(0, 120)));
        list.appendChild(li);
      });
    });
  }, 300);

  $("call-type").addEventListener("change", showType);
  $("call-text").addEventListener("input", refresh);
  $("call-class").addEventListener("change", refresh);
  $("region-search").addEventListener("input", searchRegions);
  $("kb-search").addEventListener("input", searchKb);
  mapEl.addEventListener("place", function (ev) { setPlace(ev.detail.lon, ev.detail.lat); });
  showType();
})();
