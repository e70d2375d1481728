// The console's few lines of JavaScript: live regions, uploads with progress, confirmations.
// Every page works without it; this only saves reloads.
"use strict";

// Elements with data-live-src are fetched again every 3 s; each [data-live] element inside is
// replaced by the element of the same id in the answer (server-rendered and escaped HTML).
function refreshLive() {
  document.querySelectorAll("[data-live-src]").forEach(function (holder) {
    var live = holder.matches("[data-live]") ? [holder] : Array.from(holder.querySelectorAll("[data-live]"));
    if (!live.length) return;
    fetch(holder.getAttribute("data-live-src"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (answer.redirected || answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        live.forEach(function (old) {
          var fresh = doc.getElementById(old.id);
          if (fresh) old.replaceWith(document.importNode(fresh, true));
        });
      })
      .catch(function () {});
  });
}

function upload(zone, file, list) {
  var item = document.createElement("li");
  var label = document.createElement("span");
  label.textContent = file.name + " ";
  var bar = document.createElement("progress");
  bar.max = 100; bar.value = 0;
  item.append(label, bar);
  list.append(item);
  var request = new XMLHttpRequest();
  request.open("POST", zone.getAttribute("data-upload"));
  request.setRequestHeader("X-CSRF-Token", zone.getAttribute("data-csrf"));
  request.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
  request.setRequestHeader("Accept", "application/json");
  request.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; };
  request.onload = function () {
    var answer = {};
    try { answer = JSON.parse(request.responseText); } catch (e) {}
    bar.value = 100;
    var result = document.createElement("span");
    if (request.status === 200) {
      result.className = "on"; result.textContent = " ✓ " + answer.artist + " — " + answer.title;
      item.setAttribute("data-done", answer.id);
    } else {
      result.className = "off"; result.textContent = " ✗ " + (answer.error_description || request.status);
      item.setAttribute("data-failed", "1");
    }
    item.append(result);
  };
  request.send(file);
}

document.addEventListener("DOMContentLoaded", function () {
  if (document.querySelector("[data-live-src]")) setInterval(refreshLive, 3000);
  var zone = document.getElementById("dropzone");
  if (zone) {
    var list = document.getElementById("uploads");
    var input = document.getElementById("files");
    var send = function (files) { Array.from(files).forEach(function (f) { upload(zone, f, list); }); };
    input.addEventListener("change", function () { send(input.files); input.value = ""; });
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) { e.preventDefault(); zone.classList.remove("over"); send(e.dataTransfer.files); });
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) { if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault(); });
  });
});
