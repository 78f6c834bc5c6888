// Progressive enhancement of the pages; everything works without this file.
// - Live look-up: as an identifier is typed, ask /lookup.json (the directory look-up behind
//   GET /api/v1/lookup) and show the provider, the route and the directory's staleness.
// - Move the focus to the error summary after a refused form, so it is read first.
"use strict";

(function () {
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function tag(entry) {
    if (!entry) { return null; }
    if (entry.stale) {
      return el("span", { "class": "tag stale" },
        "stale: " + (entry.verified_on ? "verified " + entry.verified_on : "never verified"));
    }
    return el("span", { "class": "tag fresh" }, "verified " + entry.verified_on);
  }

  function show(output, data) {
    output.textContent = "";
    if (data.errors) {
      output.appendChild(el("p", { "class": "field-error" },
        data.errors.map(function (e) { return e.message; }).join("; ")));
      return;
    }
    var dl = el("dl", { "class": "lookup-dl" });
    function row(label, content) {
      dl.appendChild(el("dt", {}, label));
      var dd = el("dd");
      content.forEach(function (c) {
        if (c === null) { return; }
        dd.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
      });
      dl.appendChild(dd);
    }
    row("Identifier", [data.identifier.type + " ", el("code", {}, data.identifier.normalized)]);
    if (data.provider) {
      var link = el("a", { href: "/directory/providers/" + encodeURIComponent(data.provider.slug) }, data.provider.name);
      row("Provider", [link, " ", tag(data.provider)]);
    } else {
      row("Provider", ["none identified"]);
    }
    row("Country", [data.country || "unknown"]);
    var route = data.route;
    var parts = [el("strong", {}, route.channel)];
    if (route.to) { parts.push(" → " + route.to); }
    if (route.copy_to && route.copy_to.length) {
      parts.push(" (copy to " + route.copy_to.length + " point" + (route.copy_to.length > 1 ? "s" : "") + " of contact)");
    }
    parts.push(el("br"));
    parts.push(el("span", { "class": "muted" }, route.why));
    row("Route", parts);
    var stale = (data.contacts || []).filter(function (c) { return c.stale; }).length;
    if (stale) { row("Contacts", [stale + " of " + data.contacts.length + " stale"]); }
    output.appendChild(dl);
  }

  function wire(input) {
    var timer = null;
    var last = "";
    var output = document.getElementById(input.getAttribute("data-lookup"));
    var prefix = input.id.replace(/value$/, "");
    var type = document.getElementById(prefix + "type");
    var platform = document.getElementById(prefix + "platform");
    if (!output) { return; }
    // The type follows what is typed while the drop-down says "detect" (value ""): the look-up
    // then detects it, and the "detect" option names what it found. A type the officer picks
    // is sent as chosen.
    function chosen() { return type && type.value ? type.value : ""; }
    function detected(name) {
      if (!type || !type.options.length || type.options[0].value !== "") { return; }
      type.options[0].textContent = name ? "detect (" + name + ")" : "detect";
    }
    function run() {
      var value = input.value.trim();
      var key = value + "|" + chosen() + "|" + (platform ? platform.value : "");
      if (key === last) { return; }
      last = key;
      if (value.length < 3) { output.textContent = ""; detected(""); return; }
      var params = new URLSearchParams({ identifier: value });
      if (chosen()) { params.set("type", chosen()); }
      if (platform && platform.value.trim()) { params.set("platform", platform.value.trim()); }
      output.setAttribute("aria-busy", "true");
      fetch("/lookup.json?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (resp) { return resp.json(); })
        .then(function (data) {
          if (key !== last) { return; }
          show(output, data);
          if (!chosen()) { detected(data.identifier ? data.identifier.type : ""); }
        })
        .catch(function () { output.textContent = ""; })
        .then(function () { output.removeAttribute("aria-busy"); });
    }
    function later() { clearTimeout(timer); timer = setTimeout(run, 300); }
    input.addEventListener("input", later);
    if (type) { type.addEventListener("change", later); }
    if (platform) { platform.addEventListener("input", later); }
  }

  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(document.querySelectorAll("button[type=submit]"), function (b) { b.disabled = false; });
  });

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input.js-lookup-value"), wire);
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
    // A second click of a submit button while the first is on its way would submit twice.
    Array.prototype.forEach.call(document.querySelectorAll("form[method=post]"), function (form) {
      form.addEventListener("submit", function () {
        setTimeout(function () {
          Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) { b.disabled = true; });
        }, 0);
      });
    });
  });
})();
