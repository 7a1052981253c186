// Valv portal: progressive enhancement only. Every core flow works without
// this file; it adds passkeys (which need the browser's WebAuthn API), upload
// progress, the idle-logout warning and reading one-time links' tokens from
// the URL fragment. Loaded as an external file: the CSP allows no inline script.
(function () {
  "use strict";

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function postJSON(url, body) {
    var r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    });
    var data = null;
    try { data = await r.json(); } catch (e) { /* no body */ }
    if (!r.ok) throw new Error((data && data.error && data.error.code) || ("HTTP " + r.status));
    return data;
  }

  function requestOptions(pk) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(pk);
    }
    var o = Object.assign({}, pk, { challenge: b64urlToBuf(pk.challenge) });
    if (pk.allowCredentials) {
      o.allowCredentials = pk.allowCredentials.map(function (c) { return Object.assign({}, c, { id: b64urlToBuf(c.id) }); });
    }
    return o;
  }
  function creationOptions(pk) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(pk);
    }
    var o = Object.assign({}, pk, { challenge: b64urlToBuf(pk.challenge), user: Object.assign({}, pk.user, { id: b64urlToBuf(pk.user.id) }) });
    if (pk.excludeCredentials) {
      o.excludeCredentials = pk.excludeCredentials.map(function (c) { return Object.assign({}, c, { id: b64urlToBuf(c.id) }); });
    }
    return o;
  }
  function credentialJSON(c) {
    if (typeof c.toJSON === "function") return c.toJSON();
    var r = c.response, out = { id: c.id, rawId: bufToB64url(c.rawId), type: c.type, response: { clientDataJSON: bufToB64url(r.clientDataJSON) } };
    if (r.attestationObject) out.response.attestationObject = bufToB64url(r.attestationObject);
    if (r.authenticatorData) out.response.authenticatorData = bufToB64url(r.authenticatorData);
    if (r.signature) out.response.signature = bufToB64url(r.signature);
    if (r.userHandle) out.response.userHandle = bufToB64url(r.userHandle);
    return out;
  }

  function setupPasskeys() {
    var supported = !!(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll(".js-only-hint").forEach(function (el) { el.hidden = supported; });
    var login = document.getElementById("use-passkey");
    if (login && supported) {
      login.hidden = false;
      login.addEventListener("click", async function () {
        var box = login.closest(".passkey"), err = document.getElementById("passkey-error");
        err.hidden = true;
        try {
          var begin = await postJSON("/api/v1/auth/login/passkey/begin", { challenge: box.dataset.challenge });
          var cred = await navigator.credentials.get({ publicKey: requestOptions(begin.options.publicKey) });
          await postJSON("/api/v1/auth/login/passkey/finish", { challenge: box.dataset.challenge, credential: credentialJSON(cred) });
          var next = new URL(box.dataset.next || "/", location.origin);
          location.assign(next.origin === location.origin ? next.pathname + next.search : "/");
        } catch (e) {
          err.hidden = false;
        }
      });
    }
    var add = document.getElementById("add-passkey");
    if (add && supported) {
      add.hidden = false;
      add.addEventListener("click", async function () {
        var err = document.getElementById("passkey-error");
        err.hidden = true;
        try {
          var begin = await postJSON("/api/v1/auth/passkeys/begin", {});
          var cred = await navigator.credentials.create({ publicKey: creationOptions(begin.options.publicKey) });
          await postJSON("/api/v1/auth/passkeys/finish", { ceremony: begin.ceremony, name: document.getElementById("passkey-name").value, credential: credentialJSON(cred) });
          location.reload();
        } catch (e) {
          err.hidden = false;
        }
      });
    }
  }

  // One-time links carry their token (?token=...); once it is in the
  // form, it leaves the address bar and the browser's history.
  function tokenFromLink() {
    var input = document.querySelector("input[data-from-link]");
    if (!input) return;
    var name = input.dataset.fromLink;
    var token = new URLSearchParams(location.search).get(name) || new URLSearchParams(location.hash.slice(1)).get(name);
    if (!token) return;
    input.value = token;
    input.hidden = true;
    var label = document.querySelector("label[for='" + input.id + "']");
    if (label) label.hidden = true;
    history.replaceState(null, "", location.pathname);
  }

  // Uploads show their progress; the answer replaces the page's main part.
  function uploadProgress() {
    document.querySelectorAll("form[data-progress]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        var bar = document.getElementById(form.dataset.progress);
        if (!bar || !window.FormData) return;
        ev.preventDefault();
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        bar.hidden = false;
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
        });
        // The answer (the new document's page after the redirect, or the
        // form again with why it was refused) replaces the page's main
        // part; the address follows it.
        xhr.addEventListener("load", function () {
          var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
          var main = doc.querySelector("main");
          if (!main) { location.assign(xhr.responseURL || form.action); return; }
          document.querySelector("main").replaceWith(main);
          document.title = doc.title;
          if (xhr.status < 400 && xhr.responseURL) history.pushState(null, "", xhr.responseURL);
        });
        // A network error: say so, and do not send the file again on
        // its own (it may have been stored).
        xhr.addEventListener("error", function () {
          bar.hidden = true;
          var err = document.getElementById(form.dataset.progress + "-error");
          if (err) err.hidden = false;
        });
        xhr.send(new FormData(form));
      });
    });
  }

  // The idle warning: a minute (or a fifth of the timeout) before the
  // session would end, ask; staying makes one request, which counts as
  // activity. At the end, go to the login page.
  function idleWarning() {
    var idle = parseInt(document.body.dataset.idle || "0", 10);
    var dialog = document.getElementById("idle-warning");
    if (!idle || !dialog) return;
    var warnAfter = Math.max(idle - Math.min(60, Math.floor(idle / 5)), 1) * 1000;
    var warnTimer, endTimer;
    function arm() {
      clearTimeout(warnTimer); clearTimeout(endTimer);
      warnTimer = setTimeout(function () { if (dialog.showModal) dialog.showModal(); }, warnAfter);
      endTimer = setTimeout(function () { location.assign("/login?idle=1"); }, idle * 1000);
    }
    document.getElementById("idle-stay").addEventListener("click", async function () {
      dialog.close();
      try {
        var r = await fetch("/api/v1/auth/me", { credentials: "same-origin", headers: { "Accept": "application/json" } });
        if (r.status === 401) { location.assign("/login?idle=1"); return; }
      } catch (e) { /* offline: the timers still end the page */ }
      arm();
    });
    arm();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupPasskeys();
    tokenFromLink();
    uploadProgress();
    idleWarning();
  });
})();
