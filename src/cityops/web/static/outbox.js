/* Inspector pages: an offline outbox in IndexedDB, the phone's position, the patrol map.
 * Forms marked data-queue are saved in the outbox and sent when the phone is online; each
 * report carries a client request id, so a resend returns the first case (idempotent). */
(function () {
  "use strict";
  var C = window.Cityops, S = C.strings();
  var DB = "cityops-outbox", STORE = "outbox";
  var statusEl = document.getElementById("outbox-status");
  var sending = false;
  var keepUntil = 0;  // a "sent"/"refused" note stays readable this long

  function fill(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) { return "m-" + crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "m-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "id" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }

  function all() { return tx("readonly", function (s) { return s.getAll(); }); }
  function put(entry) { return tx("readwrite", function (s) { s.put(entry); }); }
  function remove(id) { return tx("readwrite", function (s) { s["delete"](id); }); }

  function show(message, sticky) {
    if (!statusEl) { return; }
    C.text(statusEl, message || "");
    statusEl.classList.toggle("empty-queue", !message);
    if (message && !sticky) {
      keepUntil = Date.now() + 4000;
      setTimeout(function () { refreshStatus(); }, 4100);
    }
  }

  function refreshStatus() {
    return all().then(function (items) {
      if (items.length) { show(fill(S.waiting, { n: items.length }), true); }
      else if (Date.now() >= keepUntil) { show("", true); }
      document.body.setAttribute("data-outbox", String(items.length));
    });
  }

  function entryOf(form) {
    var fields = [], files = [];
    new FormData(form).forEach(function (value, key) {
      if (value instanceof File) {
        if (value.size) { files.push({ name: key, blob: value, filename: value.name }); }
      } else if (key !== "csrf") {
        fields.push([key, value]);
      }
    });
    var idField = form.querySelector('[name="client_request_id"]');
    return {
      id: idField ? idField.value : newId(),
      url: form.getAttribute("action"),
      label: form.getAttribute("data-queue"),
      fields: fields,
      files: files,
      created: Date.now()
    };
  }

  function send(entry) {
    var body = new FormData();
    entry.fields.forEach(function (f) { body.append(f[0], f[1]); });
    entry.files.forEach(function (f) { body.append(f.name, f.blob, f.filename); });
    body.append("csrf", C.csrf);
    return fetch(entry.url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": C.csrf }
    });
  }

  function flush() {
    if (sending || !navigator.onLine) { return refreshStatus(); }
    sending = true;
    return all().then(function (items) {
      items.sort(function (a, b) { return a.created - b.created; });
      var chain = Promise.resolve(true);
      items.forEach(function (entry) {
        chain = chain.then(function (goOn) {
          if (!goOn) { return false; }
          return send(entry).then(function (r) {
            if (r.redirected || r.status === 401 || r.status === 403) { show(S.login, true); return false; }
            if (r.ok) {
              return r.json().then(function (b) {
                show(fill(S.sent, { what: (b.number || entry.label) }));
                return remove(entry.id).then(function () { return true; });
              });
            }
            if (r.status >= 400 && r.status < 500) {
              return r.json().then(function (b) {
                show(fill(S.refused, { what: entry.label + " — " + (b.message || r.status) }), true);
                return remove(entry.id).then(function () { return true; });
              });
            }
            return false;  // server trouble: keep it and try later
          }, function () { return false; });  // offline after all
        });
      });
      return chain;
    }).then(function () { sending = false; return refreshStatus(); },
            function () { sending = false; });
  }

  function queueForms() {
    document.querySelectorAll("form[data-queue]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!form.reportValidity()) { return; }
        var entry = entryOf(form);
        put(entry).then(function () {
          show(S.queued);
          if (form.getAttribute("data-new-id")) {
            form.reset();
            form.querySelector('[name="client_request_id"]').value = newId();
            locate();
          } else {
            var task = form.closest(".task");
            if (task) { task.classList.add("sent"); task.hidden = true; }
          }
          return flush();
        });
      });
    });
  }

  function setPosition(lon, lat, accuracy) {
    var lonEl = document.getElementById("lon"), latEl = document.getElementById("lat");
    if (!lonEl) { return; }
    lonEl.value = lon.toFixed(6);
    latEl.value = lat.toFixed(6);
    document.body.setAttribute("data-located", "1");
    C.text(document.getElementById("position"),
      fill(S.position, { lat: lat.toFixed(5), lon: lon.toFixed(5), acc: Math.round(accuracy || 0) }));
    var mapEl = document.getElementById("report-map");
    if (mapEl && mapEl.cityMap) {
      mapEl.cityMap.map.setView([lat, lon], 16);
      mapEl.cityMap.place(L.latLng(lat, lon), false);
    }
  }

  function locate() {
    if (!document.getElementById("lon") || !navigator.geolocation) { return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPosition(pos.coords.longitude, pos.coords.latitude, pos.coords.accuracy);
    }, function () {
      C.text(document.getElementById("position"), S.no_position);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  }

  function patrolMap() {
    var el = document.getElementById("patrol-map"), node = document.getElementById("patrol-data");
    if (!el || !node || !window.CityMap) { return; }
    var data = JSON.parse(node.textContent);
    var map = CityMap.create(el);
    map.setView([39.85, 116.29], 12);
    var group = L.featureGroup().addTo(map);
    data.areas.forEach(function (a) {
      L.geoJSON(a.geometry, { style: { color: "#2f6fbe", weight: 1.5, fillOpacity: 0.08 } })
        .bindTooltip(a.name || a.code).addTo(group);
    });
    data.cases.forEach(function (c) {
      L.circleMarker([c.lat, c.lon], { radius: 6, color: "#b02a1f", fillColor: "#e8553f", fillOpacity: 0.9 })
        .bindPopup(c.label).on("click", function () { window.location.href = "/cases/" + c.id; }).addTo(group);
    });
    if (group.getLayers().length) { map.fitBounds(group.getBounds(), { maxZoom: 17, padding: [12, 12] }); }
    else { CityMap.baseLayers(map, true); }
    if (navigator.geolocation) {
      navigator.geolocation.getCurrentPosition(function (pos) {
        L.circle([pos.coords.latitude, pos.coords.longitude], { radius: Math.max(pos.coords.accuracy, 10), color: "#1e7b4a" }).addTo(map);
      }, function () {});
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    queueForms();
    var mapEl = document.getElementById("report-map");
    if (mapEl) {
      mapEl.addEventListener("place", function (ev) { setPosition(ev.detail.lon, ev.detail.lat, 0); });
      var btn = document.getElementById("locate-me");
      if (btn) { btn.addEventListener("click", locate); }
      setTimeout(locate, 50);
    }
    patrolMap();
    window.addEventListener("online", flush);
    window.addEventListener("offline", refreshStatus);
    setInterval(flush, 15000);
    flush();
  });

  window.CityOutbox = { flush: flush, all: all };
})();
